// Importing libolm 3.2 pickles (olm_pickle_account v4, olm_pickle_session v1) made live by
// python3-olm: accounts with one-time and fallback keys, sessions holding skipped message keys.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { Account, type OlmMessage, RatchetError, Session } from '../src/index.ts';
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

describe('Account.fromLibolmPickle / Session.fromLibolmPickle', () => {
  it('imports a libolm account with one-time and fallback keys, and it accepts sessions', async () => {
    const py = await peer.call<PeerAccount>({ op: 'account', id: 'bob', otks: 4, fallback: true });
    const { pickle } = await peer.call<{ pickle: string }>({
      op: 'pickle_account',
      account: 'bob',
      passphrase: PASSPHRASE,
    });
    const bob = Account.fromLibolmPickle(pickle, PASSPHRASE);
    expect(bob.identityKeys()).toEqual(py.identity);
    expect(bob.oneTimeKeys()).toEqual(py.otks);
    expect(bob.fallbackKey()).toEqual(py.fallback);
    // The signature verifies under libolm (the expanded key signs like the seed would).
    const signature = bob.sign('imported');
    expect(
      await peer.call({ op: 'verify', key: py.identity.ed25519, message: 'imported', signature }),
    ).toEqual({
      valid: true,
    });

    const alice = Account.create();
    for (const key of [...Object.values(py.otks).slice(0, 1), ...Object.values(py.fallback)]) {
      const message = alice
        .createOutboundSession(bob.identityKeys().curve25519, key)
        .encrypt('to imported bob');
      expect(
        text(bob.createInboundSession(alice.identityKeys().curve25519, message.body).plaintext),
      ).toBe('to imported bob');
    }
    // The imported account pickles in Weft's format and back.
    const key = new Uint8Array(32).fill(3);
    expect(Account.fromPickle(bob.pickle(key), key).identityKeys()).toEqual(py.identity);
  });

  it('imports libolm sessions mid-conversation, including stored skipped keys', async () => {
    const bob = Account.create();
    bob.generateOneTimeKeys(1);
    const otk = Object.values(bob.oneTimeKeys())[0] ?? '';
    await peer.call({ op: 'account', id: 'alice' });
    await peer.call({
      op: 'outbound',
      account: 'alice',
      id: 's',
      identity: bob.identityKeys().curve25519,
      otk,
    });
    const first = await peer.call<{ messages: OlmMessage[] }>({
      op: 'encrypt',
      session: 's',
      plaintexts: ['hi'],
    });
    const { session: weftBob } = bob.createInboundSession(undefined, first.messages[0]?.body ?? '');
    // Weft sends three; libolm decrypts only the last, storing two skipped keys.
    const sent = ['one', 'two', 'three'].map((p) => weftBob.encrypt(p));
    await peer.call({ op: 'decrypt', session: 's', messages: [sent[2]] });
    const { pickle } = await peer.call<{ pickle: string }>({
      op: 'pickle_session',
      session: 's',
      passphrase: PASSPHRASE,
    });
    const imported = Session.fromLibolmPickle(pickle, PASSPHRASE);
    expect(imported.sessionId()).toBe(weftBob.sessionId());
    expect(imported.hasReceivedMessage()).toBe(true);
    expect(text(imported.decrypt(sent[0] as OlmMessage))).toBe('one');
    expect(text(imported.decrypt(sent[1] as OlmMessage))).toBe('two');
    expect(text(weftBob.decrypt(imported.encrypt('from the imported session')))).toBe(
      'from the imported session',
    );
  });

  it('rejects a wrong passphrase, corruption and other kinds with bad-pickle', async () => {
    await peer.call({ op: 'account', id: 'a' });
    const { pickle } = await peer.call<{ pickle: string }>({
      op: 'pickle_account',
      account: 'a',
      passphrase: PASSPHRASE,
    });
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
        return 'accepted';
      } catch (error) {
        return RatchetError.isInstance(error) ? error.code : 'other';
      }
    };
    expect(codeOf(() => Account.fromLibolmPickle(pickle, 'wrong'))).toBe('bad-pickle');
    const bytes = decodeBase64(pickle);
    bytes[5] = (bytes[5] as number) ^ 1;
    expect(codeOf(() => Account.fromLibolmPickle(encodeBase64(bytes), PASSPHRASE))).toBe(
      'bad-pickle',
    );
    expect(codeOf(() => Account.fromLibolmPickle('%%%', PASSPHRASE))).toBe('bad-pickle');
    // An account pickle is not a session pickle (version 4 is no session version).
    expect(codeOf(() => Session.fromLibolmPickle(pickle, PASSPHRASE))).toBe('unsupported-version');
  });
});
