// signJson / verifyJson: spec appendices "Signing Details" and "Checking for a Signature".
import { describe, expect, it } from 'vitest';

import {
  type JsonObject,
  SigningError,
  signingKeyFromSeed,
  signJson,
  verifyJson,
} from '../src/index.ts';

const key = signingKeyFromSeed(new Uint8Array(32).fill(1), 'one');
const other = signingKeyFromSeed(new Uint8Array(32).fill(2), 'two');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return SigningError.isInstance(error) ? error.code : `not a SigningError: ${String(error)}`;
  }
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('signJson', () => {
  it('never mutates its input and returns a new object', () => {
    const input = deepFreeze({
      a: 1,
      signatures: { x: { 'ed25519:1': 'c2ln' } },
      unsigned: { u: 1 },
    });
    const signed = signJson(input, 'example.org', key.keyId, key);
    expect(signed).not.toBe(input);
    expect(input.signatures).toEqual({ x: { 'ed25519:1': 'c2ln' } });
  });

  it('keeps signatures of other entities and other keys of the same entity', () => {
    const once = signJson({ a: 1 }, 'example.org', key.keyId, key);
    const twice = signJson(once, 'example.org', other.keyId, other);
    const thrice = signJson(twice, 'other.org', key.keyId, key);
    expect(Object.keys(thrice.signatures['example.org'] ?? {}).sort()).toEqual([
      'ed25519:one',
      'ed25519:two',
    ]);
    for (const [entity, k] of [
      ['example.org', key],
      ['example.org', other],
      ['other.org', key],
    ] as const) {
      expect(verifyJson(thrice, entity, k.keyId, k.publicKey)).toEqual({ valid: true });
    }
  });

  it('ignores signatures and unsigned: the signature survives changes to them', () => {
    const signed = signJson({ a: 1, unsigned: { age: 1 } }, 'example.org', key.keyId, key);
    const changed = { ...signed, unsigned: { age: 999, more: true } };
    expect(verifyJson(changed, 'example.org', key.keyId, key.publicKey).valid).toBe(true);
    const withoutUnsigned = { a: 1, signatures: signed.signatures };
    expect(verifyJson(withoutUnsigned, 'example.org', key.keyId, key.publicKey).valid).toBe(true);
  });

  it('a seed signs the same as the SigningKey holding it', () => {
    const bySeed = signJson({ a: 1 }, 'e', key.keyId, key.exportSeed());
    expect(bySeed).toEqual(signJson({ a: 1 }, 'e', key.keyId, key));
  });

  it('rejects a keyId that does not fit the key', () => {
    expect(codeOf(() => signJson({}, 'e', 'ed25519:other', key))).toBe('bad-key');
    expect(codeOf(() => signJson({}, 'e', 'curve25519:one', key))).toBe('bad-key');
    expect(codeOf(() => signJson({}, 'e', 'nocolon', key))).toBe('bad-key');
    expect(codeOf(() => signJson({}, 'e', key.keyId, new Uint8Array(16)))).toBe('bad-key');
  });

  it('rejects values that are not canonical JSON and malformed signatures', () => {
    expect(codeOf(() => signJson({ f: 1.5 }, 'e', key.keyId, key))).toBe('bad-json');
    expect(codeOf(() => signJson({ signatures: [] }, 'e', key.keyId, key))).toBe('bad-json');
    expect(codeOf(() => signJson({ signatures: { e: { k: 1 } } }, 'e', key.keyId, key))).toBe(
      'bad-json',
    );
  });

  it('throws TypeError for wrong argument types', () => {
    const bad: unknown[] = [null, [], 'x', 1, new Map()];
    for (const value of bad) {
      expect(() => signJson(value as JsonObject, 'e', key.keyId, key)).toThrow(TypeError);
    }
    expect(() => signJson({}, 1 as unknown as string, key.keyId, key)).toThrow(TypeError);
    expect(() => signJson({}, 'e', key.keyId, 'seed' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('verifyJson', () => {
  const signed = signJson({ a: 1, b: [true] }, 'example.org', key.keyId, key);

  it('reports why a signature is not valid', () => {
    expect(verifyJson(signed, 'nobody.org', key.keyId, key.publicKey)).toEqual({
      valid: false,
      reason: 'missing-signature',
    });
    expect(verifyJson({ a: 1 }, 'example.org', key.keyId, key.publicKey).valid).toBe(false);
    expect(verifyJson(signed, 'example.org', key.keyId, other.publicKey)).toEqual({
      valid: false,
      reason: 'bad-signature',
    });
    expect(verifyJson({ ...signed, a: 2 }, 'example.org', key.keyId, key.publicKey)).toEqual({
      valid: false,
      reason: 'bad-signature',
    });
    const garbled = { ...signed, signatures: { 'example.org': { [key.keyId]: '!!' } } };
    expect(verifyJson(garbled, 'example.org', key.keyId, key.publicKey)).toEqual({
      valid: false,
      reason: 'bad-base64',
    });
    expect(verifyJson(signed, 'example.org', key.keyId, new Uint8Array(31))).toEqual({
      valid: false,
      reason: 'bad-key',
    });
  });

  it('throws TypeError for wrong argument types', () => {
    expect(() =>
      verifyJson(signed, 'example.org', key.keyId, 'key' as unknown as Uint8Array),
    ).toThrow(TypeError);
    expect(() => verifyJson(null as unknown as JsonObject, 'e', key.keyId, key.publicKey)).toThrow(
      TypeError,
    );
  });
});
