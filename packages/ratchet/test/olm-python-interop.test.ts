// Live interop with libolm 3.2.13 (Debian python3-olm): Olm sessions started from each side,
// long conversations with a ratchet step every round, out-of-order and delayed delivery (skipped
// message keys), fallback keys, session matching and signatures.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { Account, type OlmMessage, type Session } from '../src/index.ts';
import { PythonOlmPeer } from './olm-python-peer.ts';

interface PeerAccount {
  identity: { curve25519: string; ed25519: string };
  otks: Record<string, string>;
  fallback: Record<string, string>;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const text = (bytes: Uint8Array) => decoder.decode(bytes);

/** A small deterministic PRNG (mulberry32) for delivery orders, so failures reproduce. */
function shuffler(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return <T>(items: T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
}

/**
 * Alternating batches in both directions: each batch starts a new ratchet chain; it is delivered
 * shuffled, and its first message is held back and delivered after the next batch of that
 * direction (an old-chain message, decryptable only from a stored skipped key). Returns the
 * number of messages exchanged.
 */
async function converse(
  peer: PythonOlmPeer,
  weft: Session,
  pySession: string,
  rounds: number,
  seed: number,
) {
  const shuffle = shuffler(seed);
  let count = 0;
  let heldToPython: { message: OlmMessage; plaintext: string } | undefined;
  let heldToWeft: { message: OlmMessage; plaintext: string } | undefined;
  for (let round = 0; round < rounds; round++) {
    const size = 10 + ((round * 7) % 21);

    // Python → Weft.
    const fromPython = Array.from(
      { length: size },
      (_, i) => `py r${round} #${i} ✉ ${'x'.repeat(i * 3)}`,
    );
    const sent = await peer.call<{ messages: OlmMessage[] }>({
      op: 'encrypt',
      session: pySession,
      plaintexts: fromPython,
    });
    const pairs = sent.messages.map((message, i) => ({
      message,
      plaintext: fromPython[i] as string,
    }));
    for (const { message } of pairs) expect(message.type).toBe(1);
    const [first, ...rest] = pairs;
    const deliveries = shuffle(rest);
    if (heldToWeft !== undefined) deliveries.push(heldToWeft);
    heldToWeft = first;
    for (const { message, plaintext } of deliveries) {
      expect(text(weft.decrypt(message))).toBe(plaintext);
      count += 1;
    }

    // Weft → Python.
    const fromWeft = Array.from(
      { length: size },
      (_, i) => `weft r${round} #${i} 🔑 ${'y'.repeat(i * 5)}`,
    );
    const ours = fromWeft.map((plaintext) => ({ message: weft.encrypt(plaintext), plaintext }));
    for (const { message } of ours) expect(message.type).toBe(1);
    const [firstOurs, ...restOurs] = ours;
    const toPython = shuffle(restOurs);
    if (heldToPython !== undefined) toPython.push(heldToPython);
    heldToPython = firstOurs;
    const decrypted = await peer.call<{ plaintexts: string[] }>({
      op: 'decrypt',
      session: pySession,
      messages: toPython.map((d) => d.message),
    });
    expect(decrypted.plaintexts).toEqual(toPython.map((d) => d.plaintext));
    count += toPython.length;
  }
  return count;
}

let peer: PythonOlmPeer;
beforeEach(() => {
  peer = new PythonOlmPeer();
});
afterEach(() => {
  peer.close();
});

describe('Olm interop with libolm (python3-olm)', () => {
  it('Weft starts the session; libolm accepts it; 1,000+ messages both ways', async () => {
    const bob = await peer.call<PeerAccount>({ op: 'account', id: 'bob', otks: 3 });
    const alice = Account.create();
    const [otk] = Object.values(bob.otks);
    if (otk === undefined) throw new Error('no one-time key');
    const session = alice.createOutboundSession(bob.identity.curve25519, otk);
    const preKeys = ['hello libolm 👋', 'second pre-key', 'third pre-key'].map((p) => ({
      plaintext: p,
      message: session.encrypt(p),
    }));
    for (const { message } of preKeys) expect(message.type).toBe(0);

    const [first, second, third] = preKeys;
    if (first === undefined || second === undefined || third === undefined)
      throw new Error('unreachable');
    const inbound = await peer.call<{ session_id: string; plaintext: string }>({
      op: 'inbound',
      account: 'bob',
      id: 's',
      identity: alice.identityKeys().curve25519,
      body: first.message.body,
    });
    expect(inbound).toEqual({ session_id: session.sessionId(), plaintext: first.plaintext });
    expect(await peer.call({ op: 'matches', session: 's', body: third.message.body })).toEqual({
      matches: true,
    });
    // Delivered in reverse: the third needs a skipped key for the second.
    const out = await peer.call<{ plaintexts: string[] }>({
      op: 'decrypt',
      session: 's',
      messages: [third.message, second.message],
    });
    expect(out.plaintexts).toEqual([third.plaintext, second.plaintext]);

    expect(session.hasReceivedMessage()).toBe(false);
    const count = await converse(peer, session, 's', 30, 1);
    expect(session.hasReceivedMessage()).toBe(true);
    expect(count).toBeGreaterThanOrEqual(1000);
  });

  it('libolm starts the session; Weft accepts it; 1,000+ messages both ways', async () => {
    const bob = Account.create();
    bob.generateOneTimeKeys(3);
    const [[keyId, otk] = []] = Object.entries(bob.oneTimeKeys());
    if (keyId === undefined || otk === undefined) throw new Error('no one-time key');
    bob.markKeysAsPublished();
    const alice = await peer.call<PeerAccount>({ op: 'account', id: 'alice' });
    const outbound = await peer.call<{ session_id: string }>({
      op: 'outbound',
      account: 'alice',
      id: 's',
      identity: bob.identityKeys().curve25519,
      otk,
    });
    const plaintexts = ['hello Weft 👋', 'second pre-key', 'third pre-key'];
    const { messages } = await peer.call<{ messages: OlmMessage[] }>({
      op: 'encrypt',
      session: 's',
      plaintexts,
    });
    const [first, second, third] = messages;
    if (first === undefined || second === undefined || third === undefined)
      throw new Error('unreachable');
    expect(first.type).toBe(0);

    const { session, plaintext } = bob.createInboundSession(alice.identity.curve25519, first.body);
    expect(text(plaintext)).toBe(plaintexts[0]);
    expect(session.sessionId()).toBe(outbound.session_id);
    expect(session.matchesInboundSession(third.body)).toBe(true);
    expect(session.matchesInboundSession(third.body, alice.identity.curve25519)).toBe(true);
    expect(session.matchesInboundSession(third.body, bob.identityKeys().curve25519)).toBe(false);
    // The used one-time key is gone; a replayed pre-key message cannot open a second session.
    expect(Object.keys(bob.oneTimeKeys())).not.toContain(keyId);
    expect(() => bob.createInboundSession(undefined, first.body)).toThrow(
      expect.objectContaining({ code: 'unknown-one-time-key' }),
    );
    expect(text(session.decrypt(third))).toBe(plaintexts[2]);
    expect(text(session.decrypt(second))).toBe(plaintexts[1]);

    // Weft replies first, so libolm switches to normal messages.
    const reply = session.encrypt('reply from Weft');
    expect(reply.type).toBe(1);
    expect(await peer.call({ op: 'decrypt', session: 's', messages: [reply] })).toEqual({
      plaintexts: ['reply from Weft'],
    });
    const count = await converse(peer, session, 's', 30, 2);
    expect(count).toBeGreaterThanOrEqual(1000);
  });

  it('sessions on fallback keys work in both directions', async () => {
    const pyBob = await peer.call<PeerAccount>({ op: 'account', id: 'bob', fallback: true });
    const [pyFallback] = Object.values(pyBob.fallback);
    if (pyFallback === undefined) throw new Error('no fallback key');
    const alice = Account.create();
    const toPython = alice.createOutboundSession(pyBob.identity.curve25519, pyFallback);
    const message = toPython.encrypt('via fallback');
    const inbound = await peer.call<{ plaintext: string }>({
      op: 'inbound',
      account: 'bob',
      id: 'f1',
      identity: alice.identityKeys().curve25519,
      body: message.body,
    });
    expect(inbound.plaintext).toBe('via fallback');

    const bob = Account.create();
    bob.generateFallbackKey();
    const [fallback] = Object.values(bob.fallbackKey());
    if (fallback === undefined) throw new Error('no fallback key');
    bob.markKeysAsPublished();
    expect(bob.fallbackKey()).toEqual({});
    const pyAlice = await peer.call<PeerAccount>({ op: 'account', id: 'alice' });
    await peer.call({
      op: 'outbound',
      account: 'alice',
      id: 'f2',
      identity: bob.identityKeys().curve25519,
      otk: fallback,
    });
    const sent = await peer.call<{ messages: OlmMessage[] }>({
      op: 'encrypt',
      session: 'f2',
      plaintexts: ['a', 'b'],
    });
    const [a, b] = sent.messages;
    if (a === undefined || b === undefined) throw new Error('unreachable');
    // A fallback key is reusable: two inbound sessions from the same key both open.
    expect(text(bob.createInboundSession(pyAlice.identity.curve25519, a.body).plaintext)).toBe('a');
    expect(text(bob.createInboundSession(pyAlice.identity.curve25519, b.body).plaintext)).toBe('b');
    // After a rotation the previous fallback key still works until it is forgotten.
    bob.generateFallbackKey();
    expect(text(bob.createInboundSession(pyAlice.identity.curve25519, a.body).plaintext)).toBe('a');
    bob.forgetOldFallbackKey();
    expect(() => bob.createInboundSession(pyAlice.identity.curve25519, a.body)).toThrow(
      expect.objectContaining({ code: 'unknown-one-time-key' }),
    );
  });

  it('both accept a pre-key message with an unknown field of wire type 1, 5 or 7 and ignore what follows', async () => {
    // libolm's skip_unknown (src/message.cpp) cannot size these wire types and ends the body
    // there. The outer pre-key message carries no MAC, so its fields can be appended to: each
    // suffix has such a field (wire type 1 cut short of 8 bytes, 5, 7), then a bogus message
    // field (tag 0x22) that would replace the real one if it were read.
    const suffixes = [
      [0x29, 1, 2, 3, 0x22, 2, 0xff, 0xff],
      [0x2d, 1, 2, 3, 4, 0x22, 1, 0xff],
      [0x2f, 0x22, 0x7f],
    ];
    const extend = (body: string, suffix: number[]) =>
      encodeBase64(Uint8Array.of(...decodeBase64(body), ...suffix));

    // Weft → libolm.
    const bob = await peer.call<PeerAccount>({ op: 'account', id: 'bob', otks: 3 });
    for (const [i, suffix] of suffixes.entries()) {
      const otk = Object.values(bob.otks)[i];
      if (otk === undefined) throw new Error('no one-time key');
      const alice = Account.create();
      const message = alice.createOutboundSession(bob.identity.curve25519, otk).encrypt(`w${i}`);
      const inbound = await peer.call<{ plaintext: string }>({
        op: 'inbound',
        account: 'bob',
        id: `in${i}`,
        identity: alice.identityKeys().curve25519,
        body: extend(message.body, suffix),
      });
      expect(inbound.plaintext).toBe(`w${i}`);
    }

    // libolm → Weft.
    const weftBob = Account.create();
    weftBob.generateOneTimeKeys(suffixes.length);
    const otks = Object.values(weftBob.oneTimeKeys());
    const alice = await peer.call<PeerAccount>({ op: 'account', id: 'alice' });
    for (const [i, suffix] of suffixes.entries()) {
      await peer.call({
        op: 'outbound',
        account: 'alice',
        id: `out${i}`,
        identity: weftBob.identityKeys().curve25519,
        otk: otks[i],
      });
      const { messages } = await peer.call<{ messages: OlmMessage[] }>({
        op: 'encrypt',
        session: `out${i}`,
        plaintexts: [`py${i}`],
      });
      const [message] = messages;
      if (message === undefined) throw new Error('no message');
      const { plaintext } = weftBob.createInboundSession(
        alice.identity.curve25519,
        extend(message.body, suffix),
      );
      expect(text(plaintext)).toBe(`py${i}`);
    }
  });

  it('libolm verifies Account.sign signatures', async () => {
    const account = Account.create();
    const message = '{"algorithms":["m.olm.v1.curve25519-aes-sha2"],"device_id":"WEFT"}';
    const signature = account.sign(message);
    const key = account.identityKeys().ed25519;
    expect(await peer.call({ op: 'verify', key, message, signature })).toEqual({ valid: true });
    expect(await peer.call({ op: 'verify', key, message: `${message} `, signature })).toEqual({
      valid: false,
    });
  });
});
