// The Olm key schedule (https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-algorithm): the
// derivations in src/olm/kdf.ts must equal the plain definitions (RFC 5869 HKDF, RFC 2104 HMAC)
// computed with @noble/hashes directly.
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CipherKeysBuffer, deriveCipherKeys, zeroizeKeys } from '../src/cipher.ts';
import {
  advanceChain,
  advanceChainInto,
  advanceRootKey,
  deriveInitialKeys,
  deriveMessageKeysInto,
  writeMessageMac,
} from '../src/olm/kdf.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('Olm key schedule', () => {
  it('writeMessageMac writes HMAC-SHA-256 truncated to 8 bytes at the offset, nothing else', () => {
    fc.assert(
      fc.property(
        key,
        fc.uint8Array({ maxLength: 400 }),
        fc.nat({ max: 20 }),
        (macKey, message, offset) => {
          const out = new Uint8Array(offset + 8 + 5).fill(0xee);
          writeMessageMac(macKey, message, out, offset);
          const expected = new Uint8Array(out.length).fill(0xee);
          expected.set(hmac(sha256, macKey, message).subarray(0, 8), offset);
          expect(out).toEqual(expected);
        },
      ),
    );
  });

  it('writeMessageMac in place after the bytes it covers (as a message is sealed)', () => {
    fc.assert(
      fc.property(key, fc.uint8Array({ maxLength: 300 }), (macKey, body) => {
        const message = new Uint8Array(body.length + 8);
        message.set(body);
        writeMessageMac(macKey, message.subarray(0, body.length), message, body.length);
        expect(message.subarray(body.length)).toEqual(hmac(sha256, macKey, body).subarray(0, 8));
      }),
    );
  });

  it('advanceChain gives Mi,j = HMAC(C, 0x01) and Ci,j+1 = HMAC(C, 0x02)', () => {
    fc.assert(
      fc.property(key, (chainKey) => {
        const step = advanceChain(chainKey);
        expect(step.messageKey).toEqual(hmac(sha256, chainKey, Uint8Array.of(1)));
        expect(step.nextChainKey).toEqual(hmac(sha256, chainKey, Uint8Array.of(2)));
      }),
    );
  });

  it('advanceChainInto gives the same step into given buffers, also in place over the chain key', () => {
    fc.assert(
      fc.property(key, (chainKey) => {
        const messageKey = new Uint8Array(32);
        const next = new Uint8Array(32);
        advanceChainInto(chainKey, messageKey, next);
        expect(messageKey).toEqual(hmac(sha256, chainKey, Uint8Array.of(1)));
        expect(next).toEqual(hmac(sha256, chainKey, Uint8Array.of(2)));
        const inPlace = Uint8Array.from(chainKey);
        advanceChainInto(inPlace, messageKey.fill(0), inPlace);
        expect(messageKey).toEqual(hmac(sha256, chainKey, Uint8Array.of(1)));
        expect(inPlace).toEqual(next);
      }),
    );
  });

  it('deriveMessageKeysInto equals HKDF(0, M, "OLM_KEYS", 80) split 32/32/16, in one reused buffer wiped by zeroizeKeys', () => {
    const buffer = new CipherKeysBuffer();
    fc.assert(
      fc.property(key, (messageKey) => {
        const okm = hkdf(sha256, messageKey, new Uint8Array(32), utf8('OLM_KEYS'), 80);
        const keys = deriveMessageKeysInto(messageKey, buffer);
        expect(keys).toBe(buffer);
        expect([keys.aesKey, keys.macKey, keys.iv]).toEqual([
          okm.slice(0, 32),
          okm.slice(32, 64),
          okm.slice(64, 80),
        ]);
        const fresh = deriveCipherKeys(messageKey, 'OLM_KEYS');
        expect([keys.aesKey, keys.macKey, keys.iv]).toEqual([fresh.aesKey, fresh.macKey, fresh.iv]);
        zeroizeKeys(keys);
        for (const part of [buffer.aesKey, buffer.macKey, buffer.iv]) {
          expect(part.every((byte) => byte === 0)).toBe(true);
        }
      }),
    );
  });

  it('root keys: HKDF with "OLM_ROOT" (zero salt) and "OLM_RATCHET" (root key as salt)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 96, maxLength: 96 }), key, key, (secret, root, dh) => {
        const initial = hkdf(sha256, secret, undefined, utf8('OLM_ROOT'), 64);
        expect(deriveInitialKeys(secret)).toEqual({
          rootKey: initial.slice(0, 32),
          chainKey: initial.slice(32),
        });
        const next = hkdf(sha256, dh, root, utf8('OLM_RATCHET'), 64);
        expect(advanceRootKey(root, dh)).toEqual({
          rootKey: next.slice(0, 32),
          chainKey: next.slice(32),
        });
      }),
    );
  });
});
