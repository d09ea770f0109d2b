/**
 * The Olm key schedule (Olm spec, "The Olm Algorithm",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-algorithm).
 *
 * - Initial setup: R0 ‖ C0,0 = HKDF(0, S, "OLM_ROOT", 64) where S is the triple-DH secret.
 * - Advancing the root key: Ri ‖ Ci,0 = HKDF(Ri−1, ECDH(Ti−1, Ti), "OLM_RATCHET", 64).
 * - Advancing the chain key: Ci,j = HMAC(Ci,j−1, "\x02").
 * - Creating a message key: Mi,j = HMAC(Ci,j, "\x01").
 * - Authenticated encryption keys: AES_KEY ‖ HMAC_KEY ‖ AES_IV = HKDF(0, Mi,j, "OLM_KEYS", 80).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

const encoder = new TextEncoder();
const ROOT_INFO = encoder.encode('OLM_ROOT');
const RATCHET_INFO = encoder.encode('OLM_RATCHET');
/** The info string for the per-message AES/HMAC keys ("Olm Authenticated Encryption", Version 1). */
export const MESSAGE_KEYS_INFO = 'OLM_KEYS';
const ZERO_SALT = new Uint8Array(32);
const CHAIN_SEED = Uint8Array.of(0x02);
const MESSAGE_SEED = Uint8Array.of(0x01);

/** A root key and the first chain key of the chain it starts. */
export interface RootAndChain {
  readonly rootKey: Uint8Array;
  readonly chainKey: Uint8Array;
}

function split(okm: Uint8Array): RootAndChain {
  const result = { rootKey: okm.slice(0, 32), chainKey: okm.slice(32, 64) };
  okm.fill(0);
  return result;
}

/** R0 ‖ C0,0 from the triple-DH shared secret (zero salt, "OLM_ROOT"). */
export function deriveInitialKeys(sharedSecret: Uint8Array): RootAndChain {
  return split(hkdf(sha256, sharedSecret, ZERO_SALT, ROOT_INFO, 64));
}

/** Ri ‖ Ci,0 from the previous root key (as salt) and a ratchet-key agreement ("OLM_RATCHET"). */
export function advanceRootKey(rootKey: Uint8Array, ratchetSecret: Uint8Array): RootAndChain {
  return split(hkdf(sha256, ratchetSecret, rootKey, RATCHET_INFO, 64));
}

/** Ci,j+1 = HMAC-SHA-256(Ci,j, 0x02). */
export function nextChainKey(chainKey: Uint8Array): Uint8Array {
  return hmac(sha256, chainKey, CHAIN_SEED);
}

/** Mi,j = HMAC-SHA-256(Ci,j, 0x01). */
export function messageKey(chainKey: Uint8Array): Uint8Array {
  return hmac(sha256, chainKey, MESSAGE_SEED);
}
