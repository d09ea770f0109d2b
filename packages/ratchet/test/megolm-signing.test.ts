// The two Ed25519 paths of src/megolm/signing.ts (OpenSSL through node:crypto, and
// @noble/curves) must produce the same keys and signatures and accept exactly the same input.
import { randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession } from '../src/index.ts';
import {
  selectSigningImplementation,
  signingKeyFromSeed,
  verifierFor,
} from '../src/megolm/signing.ts';

function withImplementation<T>(native: boolean, fn: () => T): T {
  selectSigningImplementation(native);
  try {
    return fn();
  } finally {
    selectSigningImplementation(true);
  }
}

afterAll(() => selectSigningImplementation(true));

describe('Ed25519 native and pure paths', () => {
  it('the native path is available under Node', () => {
    expect(selectSigningImplementation(true)).toBe(true);
  });

  it('derive the same public key and the same signature, each verified by both', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (seed, message) => {
          const native = withImplementation(true, () => signingKeyFromSeed(seed.slice()));
          const pure = withImplementation(false, () => signingKeyFromSeed(seed.slice()));
          expect(native.publicKey).toEqual(pure.publicKey);
          const signature = native.sign(message);
          expect(pure.sign(message)).toEqual(signature);
          for (const native of [true, false]) {
            const verify = withImplementation(native, () => verifierFor(pure.publicKey));
            expect(verify(message, signature)).toBe(true);
            const tampered = signature.slice();
            tampered[message.length % 64] = (tampered[message.length % 64] as number) ^ 4;
            expect(verify(message, tampered)).toBe(false);
            expect(verify(message, signature.subarray(0, 63))).toBe(false);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('agree on hostile keys and non-canonical signatures (S + L, all-zero, all-0xff)', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const key = signingKeyFromSeed(new Uint8Array(randomBytes(32)));
    const message = Uint8Array.of(1, 2, 3);
    const signature = key.sign(message);
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(signature[32 + i] as number);
    const malleated = signature.slice();
    let t = s + L;
    for (let i = 0; i < 32; i++) {
      malleated[32 + i] = Number(t & 0xffn);
      t >>= 8n;
    }
    const keys = [
      key.publicKey,
      new Uint8Array(32),
      new Uint8Array(32).fill(0xff),
      Uint8Array.of(1, ...new Uint8Array(31)),
    ];
    for (const publicKey of keys) {
      for (const sig of [signature, malleated, new Uint8Array(64), new Uint8Array(64).fill(0xff)]) {
        const native = withImplementation(true, () => verifierFor(publicKey))(message, sig);
        const pure = withImplementation(false, () => verifierFor(publicKey))(message, sig);
        expect(native).toBe(pure);
      }
    }
    expect(withImplementation(false, () => verifierFor(key.publicKey))(message, malleated)).toBe(
      false,
    );
  });

  it('a whole Megolm exchange gives identical bytes on either path and crosses paths', () => {
    const secret = new Uint8Array(randomBytes(160));
    const run = (native: boolean) =>
      withImplementation(native, () => {
        const outbound = new GroupSession(() => secret.slice());
        const key0 = outbound.sessionKey();
        const messages = [outbound.encrypt('a'), outbound.encrypt('b')];
        return { key0, messages, key2: outbound.sessionKey() };
      });
    const native = run(true);
    const pure = run(false);
    expect(pure).toEqual(native);
    for (const receiverNative of [true, false]) {
      const inbound = withImplementation(receiverNative, () =>
        InboundGroupSession.fromSessionKey(native.key0),
      );
      const texts = native.messages.map((m) =>
        new TextDecoder().decode(inbound.decrypt(m).plaintext),
      );
      expect(texts).toEqual(['a', 'b']);
    }
  });
});
