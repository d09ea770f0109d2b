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
import { sha256 } from '@noble/hashes/sha2.js';

import type { CipherKeys } from '../cipher.ts';
import { HmacSha256 } from './hmac-sha256.ts';

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

/** One step of a chain: the message key Mi,j and the next chain key Ci,j+1. */
export interface ChainStep {
  readonly messageKey: Uint8Array;
  readonly nextChainKey: Uint8Array;
}

// HMAC keyed with 32 zero bytes: HKDF-Extract with the zero salt. Public, so keyed once for good.
const extract = new HmacSha256().setKey(ZERO_SALT);
// Reused for every chain step and every HKDF-Expand; wiped after each use.
const keyed = new HmacSha256();

/**
 * Mi,j = HMAC(Ci,j, 0x01) and Ci,j+1 = HMAC(Ci,j, 0x02) ("Creating a message key", "Advancing the
 * chain key"), keying the HMAC once for both.
 */
export function advanceChain(chainKey: Uint8Array): ChainStep {
  keyed.setKey(chainKey);
  const messageKey = keyed.mac(new Uint8Array(32), MESSAGE_SEED);
  const nextChainKey = keyed.mac(new Uint8Array(32), CHAIN_SEED);
  keyed.wipe();
  return { messageKey, nextChainKey };
}

const INFO_BLOCKS = [1, 2, 3].map((i) => {
  const block = new Uint8Array(MESSAGE_KEYS_INFO.length + 1);
  block.set(encoder.encode(MESSAGE_KEYS_INFO));
  block[MESSAGE_KEYS_INFO.length] = i;
  return block;
});

/**
 * AES_KEY ‖ HMAC_KEY ‖ AES_IV = HKDF(0, Mi,j, "OLM_KEYS", 80) (RFC 5869: PRK = HMAC(0, M);
 * T(n) = HMAC(PRK, T(n−1) ‖ info ‖ n)); the same bytes as `deriveCipherKeys(M, "OLM_KEYS")`,
 * computed without per-call hash allocations since it runs for every message.
 */
export function deriveMessageKeys(messageKey: Uint8Array): CipherKeys {
  const [info1, info2, info3] = INFO_BLOCKS as [Uint8Array, Uint8Array, Uint8Array];
  const prk = extract.mac(new Uint8Array(32), messageKey);
  keyed.setKey(prk);
  prk.fill(0);
  const aesKey = keyed.mac(new Uint8Array(32), info1);
  const macKey = keyed.mac(new Uint8Array(32), aesKey, info2);
  const last = keyed.mac(new Uint8Array(32), macKey, info3);
  keyed.wipe();
  const iv = last.slice(0, 16);
  last.fill(0);
  return { aesKey, macKey, iv };
}

/** The 8-byte Olm MAC: HMAC-SHA-256(macKey, message) truncated ("Olm Authenticated Encryption"). */
export function messageMac(macKey: Uint8Array, message: Uint8Array): Uint8Array {
  keyed.setKey(macKey);
  const full = keyed.mac(new Uint8Array(32), message);
  keyed.wipe();
  const mac = full.slice(0, 8);
  full.fill(0);
  return mac;
}
