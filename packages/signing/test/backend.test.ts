// The native (node:crypto) and pure (@noble) backends must give identical results: same hashes,
// same signatures (Ed25519 is deterministic), same verdicts on valid and tampered signatures.
import { createHash } from 'node:crypto';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { backend, hasNativeBackend, useBackend } from '../src/backend.ts';
import { signingKeyFromSeed, signJson, verifyJson } from '../src/index.ts';

const initial = backend().name;
afterAll(() => {
  useBackend(initial);
});

function withBackend<T>(name: 'pure' | 'native', fn: () => T): T {
  const previous = useBackend(name);
  try {
    return fn();
  } finally {
    useBackend(previous);
  }
}

describe('crypto backends', () => {
  it('Node selects the native backend by default', () => {
    expect(hasNativeBackend()).toBe(true);
    expect(initial).toBe('native');
  });

  it('SHA-256 agrees with each other and with node:crypto', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (data) => {
        const pure = withBackend('pure', () => backend().sha256(data));
        const native = withBackend('native', () => backend().sha256(data));
        expect(native).toEqual(pure);
        expect(pure).toEqual(new Uint8Array(createHash('sha256').update(data).digest()));
      }),
      { numRuns: 50 },
    );
  });

  it('SHA-256 of a string agrees on both backends with hashing its UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const bytes = new TextEncoder().encode(text);
        const expected = new Uint8Array(createHash('sha256').update(bytes).digest());
        expect(withBackend('pure', () => backend().sha256Utf8(text))).toEqual(expected);
        expect(withBackend('native', () => backend().sha256Utf8(text))).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });

  it('Ed25519 signatures are identical and cross-verify; tampering fails on both', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        fc.nat(),
        (seed, message, flip) => {
          const key = signingKeyFromSeed(seed, 'k');
          const pure = withBackend('pure', () => backend().sign(message, seed));
          const native = withBackend('native', () => backend().sign(message, seed, key));
          expect(native).toEqual(pure);
          const publicKey = key.publicKey;
          for (const name of ['pure', 'native'] as const) {
            withBackend(name, () => {
              expect(backend().verify(pure, message, publicKey)).toBe(true);
              const text = Array.from(message, (b) => String.fromCodePoint(b + 0x100)).join('');
              const textSig = backend().sign(new TextEncoder().encode(text), seed);
              expect(backend().verifyUtf8(textSig, text, publicKey)).toBe(true);
              expect(backend().verifyUtf8(textSig, `${text}x`, publicKey)).toBe(false);
              const badSig = pure.slice();
              badSig[flip % 64] = (badSig[flip % 64] as number) ^ (1 << (flip % 8));
              expect(backend().verify(badSig, message, publicKey)).toBe(false);
              const badMessage = message.slice();
              badMessage[flip % message.length] = (badMessage[flip % message.length] as number) ^ 1;
              expect(backend().verify(pure, badMessage, publicKey)).toBe(false);
            });
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('both reject malformed keys and signatures without throwing', () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(3), 'k');
    const message = new Uint8Array([1, 2, 3]);
    const signature = key.sign(message);
    // S = L (the group order) is a non-canonical scalar: strict RFC 8032 rejects it.
    const L = [
      0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
      0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    const highS = signature.slice();
    highS.set(L, 32);
    for (const name of ['pure', 'native'] as const) {
      withBackend(name, () => {
        expect(backend().verify(signature.slice(0, 63), message, key.publicKey)).toBe(false);
        expect(backend().verify(signature, message, key.publicKey.slice(0, 31))).toBe(false);
        expect(backend().verify(signature, message, new Uint8Array(32).fill(0xff))).toBe(false);
        expect(backend().verify(highS, message, key.publicKey)).toBe(false);
      });
    }
  });

  it('signJson/verifyJson give the same output on both backends', () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(9), 'k');
    const object = { a: [1, 'x', { b: null }], unsigned: { age: 1 } };
    const pure = withBackend('pure', () => signJson(object, 'example.org', key.keyId, key));
    const native = withBackend('native', () => signJson(object, 'example.org', key.keyId, key));
    expect(native).toEqual(pure);
    for (const name of ['pure', 'native'] as const) {
      withBackend(name, () => {
        expect(verifyJson(pure, 'example.org', key.keyId, key.publicKey)).toEqual({ valid: true });
      });
    }
  });
});
