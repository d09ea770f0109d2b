// Writing libolm 3.2 pickles (Account.toLibolmPickle, account pickle v4; Session.toLibolmPickle,
// session pickle v1): python3-olm unpickles what Weft wrote and carries on with Weft's peers,
// including the one-time, fallback and skipped message keys the state holds.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Account, type OlmMessage, Session } from '../src/index.ts';
import { PythonOlmPeer } from './olm-python-peer.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const PASSPHRASE = 'libolm pickle passphrase ✓';

let peer: PythonOlmPeer;
beforeEach(() => {
  peer = new PythonOlmPeer();
});
afterEach(() => {
  peer.close();
});

interface PeerAccount {
  identity: { curve25519: string; ed25519: string };
  otks: Record<string, string>;
  fallback: Record<string, string>;
}

describe('Account.toLibolmPickle', () => {
  it('libolm reads the keys, signs as the account and accepts sessions on its keys', async () => {
    const bob = Account.create();
    bob.generateOneTimeKeys(2);
    bob.generateFallbackKey();
    bob.markKeysAsPublished();
    // Unpublished keys next to published ones, and a previous fallback key next to the current.
    bob.generateOneTimeKeys(3);
    bob.generateFallbackKey();
    const py = await peer.call<PeerAccount>({
      op: 'unpickle_account',
      id: 'bob',
      pickle: bob.toLibolmPickle(PASSPHRASE),
      passphrase: PASSPHRASE,
    });
    expect(py.identity).toEqual(bob.identityKeys());
    expect(py.otks).toEqual(bob.oneTimeKeys());
    expect(py.fallback).toEqual(bob.fallbackKey());

    // libolm signs with the expanded key Weft derived from its seed: same public key, same
    // signature (Ed25519 is deterministic).
    const { signature } = await peer.call<{ signature: string }>({
      op: 'sign',
      account: 'bob',
      message: 'exported',
    });
    expect(signature).toBe(bob.sign('exported'));

    // A Weft sender reaches the libolm copy on a one-time key and on the fallback key.
    const alice = Account.create();
    const keys = [
      ...Object.values(bob.oneTimeKeys()).slice(0, 1),
      ...Object.values(bob.fallbackKey()),
    ];
    for (const [i, key] of keys.entries()) {
      const outbound = alice.createOutboundSession(bob.identityKeys().curve25519, key);
      const message = outbound.encrypt(`to libolm bob ${i}`);
      const reply = await peer.call<{ plaintext: string }>({
        op: 'inbound',
        account: 'bob',
        id: `s${i}`,
        body: message.body,
      });
      expect(reply.plaintext).toBe(`to libolm bob ${i}`);
    }
  });

  it('round-trips through libolm: a libolm re-pickle imports back with the same keys', async () => {
    const bob = Account.create();
    bob.generateOneTimeKeys(4);
    bob.generateFallbackKey();
    await peer.call({
      op: 'unpickle_account',
      id: 'bob',
      pickle: bob.toLibolmPickle(PASSPHRASE),
      passphrase: PASSPHRASE,
    });
    const { pickle } = await peer.call<{ pickle: string }>({
      op: 'pickle_account',
      account: 'bob',
      passphrase: PASSPHRASE,
    });
    // libolm's envelope has no salt, so the same state under the same key is the same text.
    expect(pickle).toBe(bob.toLibolmPickle(PASSPHRASE));
    const back = Account.fromLibolmPickle(pickle, PASSPHRASE);
    expect(back.identityKeys()).toEqual(bob.identityKeys());
    expect(back.oneTimeKeys()).toEqual(bob.oneTimeKeys());
    expect(back.fallbackKey()).toEqual(bob.fallbackKey());
    // The imported account holds libolm's expanded Ed25519 key (no seed) and writes it back.
    expect(back.toLibolmPickle(PASSPHRASE)).toBe(pickle);
  });
});

describe('Session.toLibolmPickle', () => {
  it('libolm continues a Weft session mid-conversation, using its stored skipped keys', async () => {
    const alice = Account.create();
    const bob = Account.create();
    bob.generateOneTimeKeys(1);
    const otk = Object.values(bob.oneTimeKeys())[0] ?? '';
    const weftAlice = alice.createOutboundSession(bob.identityKeys().curve25519, otk);
    const { session: weftBob } = bob.createInboundSession(
      undefined,
      weftAlice.encrypt('hello').body,
    );
    // Ratchet steps both ways, then Bob sends three and Alice reads only the last: her session
    // now holds two skipped message keys and a receiver chain without a sender chain.
    weftAlice.decrypt(weftBob.encrypt('step 1'));
    weftBob.decrypt(weftAlice.encrypt('step 2'));
    const pending = ['one', 'two', 'three'].map((p) => weftBob.encrypt(p));
    expect(text(weftAlice.decrypt(pending[2] as OlmMessage))).toBe('three');

    const { session_id } = await peer.call<{ session_id: string }>({
      op: 'unpickle_session',
      id: 'alice',
      pickle: weftAlice.toLibolmPickle(PASSPHRASE),
      passphrase: PASSPHRASE,
    });
    expect(session_id).toBe(weftAlice.sessionId());
    // The skipped keys travelled: libolm reads the two messages Weft skipped, out of order.
    const skipped = await peer.call<{ plaintexts: string[] }>({
      op: 'decrypt',
      session: 'alice',
      messages: [pending[1], pending[0]],
    });
    expect(skipped.plaintexts).toEqual(['two', 'one']);
    // libolm's reply makes a new ratchet step that Weft's Bob follows, and back again.
    for (let round = 0; round < 3; round++) {
      const { messages } = await peer.call<{ messages: OlmMessage[] }>({
        op: 'encrypt',
        session: 'alice',
        plaintexts: [`from libolm ${round}`, `and again ${round}`],
      });
      expect(messages.map((m) => text(weftBob.decrypt(m)))).toEqual([
        `from libolm ${round}`,
        `and again ${round}`,
      ]);
      const back = await peer.call<{ plaintexts: string[] }>({
        op: 'decrypt',
        session: 'alice',
        messages: [weftBob.encrypt(`from weft ${round}`)],
      });
      expect(back.plaintexts).toEqual([`from weft ${round}`]);
    }
  });

  it('a session that has not yet received sends pre-key messages from libolm too', async () => {
    const alice = Account.create();
    const bob = Account.create();
    bob.generateOneTimeKeys(1);
    const otk = Object.values(bob.oneTimeKeys())[0] ?? '';
    const weftAlice = alice.createOutboundSession(bob.identityKeys().curve25519, otk);
    const exported = weftAlice.toLibolmPickle(new Uint8Array(32).fill(7));
    await peer.call({
      op: 'unpickle_session',
      id: 'alice',
      pickle: exported,
      passphrase: new TextDecoder().decode(new Uint8Array(32).fill(7)),
    });
    const { messages } = await peer.call<{ messages: OlmMessage[] }>({
      op: 'encrypt',
      session: 'alice',
      plaintexts: ['first from libolm'],
    });
    expect(messages[0]?.type).toBe(0);
    const { session: weftBob, plaintext } = bob.createInboundSession(
      alice.identityKeys().curve25519,
      messages[0]?.body ?? '',
    );
    expect(text(plaintext)).toBe('first from libolm');
    expect(weftBob.sessionId()).toBe(weftAlice.sessionId());
    // Weft's own re-import of its export gives the same state back.
    expect(Session.fromLibolmPickle(exported, new Uint8Array(32).fill(7)).sessionId()).toBe(
      weftAlice.sessionId(),
    );
  });
});
