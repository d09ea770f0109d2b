// src/ed25519-expanded.ts (the one signer for libolm's expanded Ed25519 keys, used by Olm
// accounts and Megolm outbound sessions): an expanded key (RFC 8032 §5.1.5 steps 1–2, computed
// here with OpenSSL's SHA-512) must give the same public key and the same deterministic
// signatures as OpenSSL signing with the seed it came from.
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { expandedPublicKey, signWithExpanded } from '../src/ed25519-expanded.ts';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function fromSeed(seed: Uint8Array) {
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const expanded = new Uint8Array(createHash('sha512').update(seed).digest());
  expanded[0] = (expanded[0] as number) & 248;
  expanded[31] = ((expanded[31] as number) & 127) | 64;
  return { privateKey, publicKey: new Uint8Array(spki.subarray(spki.length - 32)), expanded };
}

describe('ed25519-expanded', () => {
  it('gives the seed key pair’s public key and its RFC 8032 signatures for any message', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (seed, message) => {
          const pair = fromSeed(seed);
          expect(expandedPublicKey(pair.expanded)).toEqual(pair.publicKey);
          expect(signWithExpanded(pair.expanded, pair.publicKey, message)).toEqual(
            new Uint8Array(sign(null, message, pair.privateKey)),
          );
        },
      ),
      { numRuns: 20 },
    );
  });

  it('rejects keys that are not 64 bytes with RangeError', () => {
    const pair = fromSeed(new Uint8Array(randomBytes(32)));
    expect(() => expandedPublicKey(pair.expanded.subarray(0, 32))).toThrow(RangeError);
    expect(() => signWithExpanded(new Uint8Array(65), pair.publicKey, new Uint8Array(1))).toThrow(
      RangeError,
    );
  });
});
