// src/utf8-scratch.ts: string plaintexts encoded into one reused buffer, and the encrypt calls
// that use it (Olm Session.encrypt, Megolm GroupSession.encrypt) wiping it after each message.
import fc from 'fast-check';
import { expect, it } from 'vitest';

import { Account, GroupSession, InboundGroupSession } from '../src/index.ts';
import { encodeUtf8Transient } from '../src/utf8-scratch.ts';

const decoder = new TextDecoder();

it('encodes like TextEncoder for any string, short (shared buffer) or long (fresh array)', () => {
  const encoder = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 1500 }), (text) => {
      expect(encodeUtf8Transient(text)).toEqual(encoder.encode(text));
    }),
    { numRuns: 300 },
  );
  // Every UTF-16 unit as 3 bytes at the shared buffer's limit (1,024 units), and one past it.
  for (const count of [1023, 1024, 1025]) {
    const text = '€'.repeat(count);
    expect(encodeUtf8Transient(text)).toEqual(encoder.encode(text));
  }
});

it('leaves no plaintext in the shared buffer after Olm and Megolm encrypt strings', () => {
  const secret = 'attack at dawn, ünïcode ✓';
  // Callers wipe what they used; clear what the test above left behind.
  encodeUtf8Transient('€'.repeat(1024)).fill(0);
  const alice = Account.create();
  const bob = Account.create();
  bob.generateFallbackKey();
  const fallback = Object.values(bob.fallbackKey())[0] ?? '';
  const session = alice.createOutboundSession(bob.identityKeys().curve25519, fallback);
  const group = GroupSession.create();
  const inbound = InboundGroupSession.fromSessionKey(group.sessionKey());

  const olm = session.encrypt(secret);
  // The view of an empty string starts where the last plaintext was written: widen it to see.
  const afterOlm = encodeUtf8Transient('');
  const shared = new Uint8Array(afterOlm.buffer, afterOlm.byteOffset, 64);
  expect(shared.every((byte) => byte === 0)).toBe(true);

  const megolm = group.encrypt(secret);
  expect(shared.every((byte) => byte === 0)).toBe(true);

  const { plaintext } = bob.createInboundSession(alice.identityKeys().curve25519, olm.body);
  expect(decoder.decode(plaintext)).toBe(secret);
  expect(decoder.decode(inbound.decrypt(megolm).plaintext)).toBe(secret);
});
