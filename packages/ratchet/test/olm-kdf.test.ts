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
  advanceRootKey,
  deriveInitialKeys,
  deriveMessageKeys,
  deriveMessageKeysInto,
  messageMac,
} from '../src/olm/kdf.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const utf8 = (text: string) => new TextEncoder().encode(text);

describe('Olm key schedule', () => {
  it('messageMac is HMAC-SHA-256 truncated to 8 bytes', () => {
    fc.assert(
      fc.property(key, fc.uint8Array({ maxLength: 400 }), (macKey, message) => {
        expect(messageMac(macKey, message)).toEqual(hmac(sha256, macKey, message).slice(0, 8));
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

  it('deriveMessageKeys equals HKDF(0, M, "OLM_KEYS", 80) split 32/32/16', () => {
    fc.assert(
      fc.property(key, (messageKey) => {
        const okm = hkdf(sha256, messageKey, new Uint8Array(32), utf8('OLM_KEYS'), 80);
        const keys = deriveMessageKeys(messageKey);
        expect(keys).toEqual({
          aesKey: okm.slice(0, 32),
          macKey: okm.slice(32, 64),
          iv: okm.slice(64, 80),
        });
        expect(keys).toEqual(deriveCipherKeys(messageKey, 'OLM_KEYS'));
      }),
    );
  });

  it('deriveMessageKeysInto gives the same keys in one reused buffer, wiped by zeroizeKeys', () => {
    const buffer = new CipherKeysBuffer();
    fc.assert(
      fc.property(key, (messageKey) => {
        const keys = deriveMessageKeysInto(messageKey, buffer);
        expect(keys).toBe(buffer);
        const fresh = deriveMessageKeys(messageKey);
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
