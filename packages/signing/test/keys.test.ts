// Ed25519 signing keys and key identifiers (spec appendices "Signing Details"; server-server
// API "Publishing Keys" for the key version grammar [a-zA-Z0-9_]).
import { inspect } from 'node:util';

import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';

import {
  decodeBase64,
  decodePublicKey,
  ed25519KeyId,
  encodeBase64,
  generateSigningKey,
  parseKeyId,
  SigningError,
  SigningKey,
  signingKeyFromSeed,
} from '../src/index.ts';
import { decodeVerifyKey } from '../src/keys.ts';

const SEED = new Uint8Array(32).map((_, i) => i);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return SigningError.isInstance(error) ? error.code : `not a SigningError: ${String(error)}`;
  }
  return undefined;
}

describe('signingKeyFromSeed', () => {
  it('derives the RFC 8032 public key and the key ID', () => {
    const key = signingKeyFromSeed(SEED, 'abc_1');
    expect(key.keyId).toBe('ed25519:abc_1');
    expect(key.version).toBe('abc_1');
    expect(key.publicKey).toEqual(ed25519.getPublicKey(SEED));
    expect(decodeBase64(key.publicKeyBase64)).toEqual(key.publicKey);
  });

  it('copies the seed: changing the caller buffer does not change the key', () => {
    const seed = SEED.slice();
    const key = signingKeyFromSeed(seed, 'a');
    seed.fill(0);
    expect(key.exportSeed()).toEqual(SEED);
  });

  it('signs like noble Ed25519', () => {
    const key = signingKeyFromSeed(SEED, 'a');
    const message = new TextEncoder().encode('hello');
    expect(key.sign(message)).toEqual(ed25519.sign(message, SEED));
  });

  it('rejects wrong seed lengths, bad versions and bad base64', () => {
    expect(codeOf(() => signingKeyFromSeed(new Uint8Array(31), 'a'))).toBe('bad-key');
    expect(codeOf(() => signingKeyFromSeed('Zm9v', 'a'))).toBe('bad-key');
    expect(codeOf(() => signingKeyFromSeed(SEED, 'has-dash'))).toBe('bad-key');
    expect(codeOf(() => signingKeyFromSeed(SEED, ''))).toBe('bad-key');
    expect(codeOf(() => signingKeyFromSeed('not base64!', 'a'))).toBe('bad-base64');
    expect(() => signingKeyFromSeed(42 as unknown as Uint8Array, 'a')).toThrow(TypeError);
  });

  it('cannot be constructed directly', () => {
    const Ctor = SigningKey as unknown as new (...args: unknown[]) => SigningKey;
    expect(() => new Ctor(Symbol('x'), SEED, 'a')).toThrow(TypeError);
  });
});

describe('generateSigningKey', () => {
  it('draws fresh seeds from the CSPRNG and picks a valid random version', () => {
    const a = generateSigningKey();
    const b = generateSigningKey();
    expect(a.exportSeed()).not.toEqual(b.exportSeed());
    expect(a.keyId).toMatch(/^ed25519:a_[A-Za-z0-9]{6}$/);
    expect(generateSigningKey('k1').keyId).toBe('ed25519:k1');
    expect(codeOf(() => generateSigningKey('no:colons'))).toBe('bad-key');
  });
});

describe('secret hygiene', () => {
  const key = signingKeyFromSeed(SEED, 'shown');
  const seedB64 = Buffer.from(SEED).toString('base64').replace(/=+$/, '');
  const seedHex = Buffer.from(SEED).toString('hex');

  it('toJSON, toString and util.inspect show only the key ID and public key', () => {
    const expected = `SigningKey(ed25519:shown, ${key.publicKeyBase64})`;
    expect(JSON.stringify(key)).toBe(
      JSON.stringify({ keyId: 'ed25519:shown', publicKey: key.publicKeyBase64 }),
    );
    expect(String(key)).toBe(expected);
    expect(inspect(key)).toBe(expected);
    expect(inspect({ nested: key }, { breakLength: Number.POSITIVE_INFINITY })).toBe(
      `{ nested: ${expected} }`,
    );
    for (const text of [JSON.stringify(key), String(key), inspect(key, { showHidden: true })]) {
      expect(text).not.toContain(seedB64);
      expect(text).not.toContain(seedHex);
    }
  });

  it('dispose zeroes the seed and later use throws bad-key', () => {
    const doomed = signingKeyFromSeed(SEED, 'gone');
    doomed.sign(new Uint8Array(1));
    doomed.dispose();
    expect(codeOf(() => doomed.sign(new Uint8Array(1)))).toBe('bad-key');
    expect(codeOf(() => doomed.exportSeed())).toBe('bad-key');
  });
});

describe('key identifiers', () => {
  it('parseKeyId splits at the first colon', () => {
    expect(parseKeyId('ed25519:abc')).toEqual({ algorithm: 'ed25519', version: 'abc' });
    expect(parseKeyId('curve25519:a:b')).toEqual({ algorithm: 'curve25519', version: 'a:b' });
    for (const bad of ['ed25519', ':abc', 'ed25519:', '']) {
      expect(codeOf(() => parseKeyId(bad))).toBe('bad-key');
    }
    expect(() => parseKeyId(1 as unknown as string)).toThrow(TypeError);
  });

  it('ed25519KeyId enforces the [a-zA-Z0-9_] version grammar', () => {
    expect(ed25519KeyId('A_z9')).toBe('ed25519:A_z9');
    expect(codeOf(() => ed25519KeyId('a.b'))).toBe('bad-key');
  });

  it('decodePublicKey accepts 32 bytes or their base64, nothing else', () => {
    const key = signingKeyFromSeed(SEED, 'a');
    expect(decodePublicKey(key.publicKeyBase64)).toEqual(key.publicKey);
    expect(decodePublicKey(key.publicKey)).toEqual(key.publicKey);
    expect(codeOf(() => decodePublicKey(new Uint8Array(33)))).toBe('bad-key');
    expect(codeOf(() => decodePublicKey('Zm9v'))).toBe('bad-key');
  });

  it('decodePublicKey accepts only the canonical spelling; decodeVerifyKey any Synapse accepts', () => {
    const bytes = new Uint8Array(32).fill(0xfb);
    const canonical = encodeBase64(bytes); // '+/v7…' then a last character with free low bits
    expect(canonical).toMatch(/[+/]/);
    const last = canonical.charCodeAt(canonical.length - 1);
    const spellings = [
      canonical.replaceAll('+', '-').replaceAll('/', '_'), // URL-safe
      `${canonical}=`, // padded
      canonical.slice(0, -1) + String.fromCharCode(last + 1), // non-zero trailing bits
    ];
    expect(decodePublicKey(canonical)).toEqual(bytes);
    for (const spelling of spellings) {
      expect(codeOf(() => decodePublicKey(spelling))).toBe('bad-base64');
      expect(decodeVerifyKey(spelling)).toEqual(bytes);
    }
    expect(codeOf(() => decodeVerifyKey('Zm9v'))).toBe('bad-key');
  });
});

describe('SigningError', () => {
  it('isInstance checks the Symbol.for marker, not the class identity', () => {
    const error = new SigningError('bad-key', 'x', {
      keyId: 'ed25519:a',
      path: '$.a',
      entity: 'e',
    });
    expect(SigningError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'bad-key', keyId: 'ed25519:a', path: '$.a', entity: 'e' });
    const foreign = Object.assign(new Error('x'), { [Symbol.for('weft.signing.error')]: true });
    expect(SigningError.isInstance(foreign)).toBe(true);
    expect(SigningError.isInstance(new Error('x'))).toBe(false);
    expect(SigningError.isInstance(null)).toBe(false);
    const cause = new Error('inner');
    expect(new SigningError('bad-json', 'y', { cause }).cause).toBe(cause);
  });
});
