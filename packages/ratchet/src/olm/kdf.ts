/**
 * The Olm key schedule (Olm spec, "The Olm Algorithm",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-algorithm).
 *
 * - Initial setup: R0 ‖ C0,0 = HKDF(0, S, "OLM_ROOT", 64) where S is the triple-DH secret.
 * - Advancing the root key: Ri ‖ Ci,0 = HKDF(Ri−1, ECDH(Ti−1, Ti), "OLM_RATCHET", 64).
 * - Advancing the chain key: Ci,j = HMAC(Ci,j−1, "\x02").
 * - Creating a message key: Mi,j = HMAC(Ci,j, "\x01").
 * - Authenticated encryption keys: AES_KEY ‖ HMAC_KEY ‖ AES_IV = HKDF(0, Mi,j, "OLM_KEYS", 80),
 *   and the message MAC is HMAC-SHA-256(HMAC_KEY, message) truncated to 8 bytes.
 *
 * HMAC and HKDF come from the package's one primitives module (`../primitives.ts`).
 */
import { type CipherKeys, type CipherKeysBuffer, truncatedMacInto } from '../cipher.ts';
import { hkdfSha256 as hkdf, hmacSha256Into } from '../primitives.ts';
import { MAC_LENGTH } from './messages.ts';

const encoder = new TextEncoder();
const ROOT_INFO = encoder.encode('OLM_ROOT');
const RATCHET_INFO = encoder.encode('OLM_RATCHET');
const MESSAGE_KEYS_INFO = 'OLM_KEYS';
const ZERO_SALT = new Uint8Array(32);
const CHAIN_SEED = Uint8Array.of(0x02);
const MESSAGE_SEED = Uint8Array.of(0x01);
const STEP_SEEDS = [MESSAGE_SEED, CHAIN_SEED] as const;

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
  return split(hkdf(sharedSecret, ZERO_SALT, ROOT_INFO, 64));
}

/** Ri ‖ Ci,0 from the previous root key (as salt) and a ratchet-key agreement ("OLM_RATCHET"). */
export function advanceRootKey(rootKey: Uint8Array, ratchetSecret: Uint8Array): RootAndChain {
  return split(hkdf(ratchetSecret, rootKey, RATCHET_INFO, 64));
}

/** One step of a chain: the message key Mi,j and the next chain key Ci,j+1. */
export interface ChainStep {
  readonly messageKey: Uint8Array;
  readonly nextChainKey: Uint8Array;
}

/**
 * Mi,j = HMAC(Ci,j, 0x01) and Ci,j+1 = HMAC(Ci,j, 0x02) ("Creating a message key", "Advancing the
 * chain key").
 */
export function advanceChain(chainKey: Uint8Array): ChainStep {
  const messageKey = new Uint8Array(32);
  const nextChainKey = new Uint8Array(32);
  advanceChainInto(chainKey, messageKey, nextChainKey);
  return { messageKey, nextChainKey };
}

/**
 * `advanceChain` into the caller's 32-byte buffers (reused ones on the message path: no arrays
 * per message). `nextChainKey` may be `chainKey` itself, stepping the chain in place: the key is
 * absorbed before either output is written.
 */
export function advanceChainInto(
  chainKey: Uint8Array,
  messageKey: Uint8Array,
  nextChainKey: Uint8Array,
): void {
  // Both HMACs share the key C_i,j, which is absorbed once (`hmacSha256Into`).
  hmacSha256Into(chainKey, STEP_SEEDS, [messageKey, nextChainKey]);
}

/**
 * AES_KEY ‖ HMAC_KEY ‖ AES_IV = HKDF(0, Mi,j, "OLM_KEYS", 80), into a reused `CipherKeysBuffer`
 * (wipe it with `zeroizeKeys` after use).
 */
export function deriveMessageKeysInto(messageKey: Uint8Array, keys: CipherKeysBuffer): CipherKeys {
  return keys.derive(messageKey, MESSAGE_KEYS_INFO);
}

/**
 * The 8-byte Olm MAC, HMAC-SHA-256(macKey, message) truncated, written into `out` at `offset`
 * (in place after the message it covers, or into a reused buffer the caller wipes).
 */
export function writeMessageMac(
  macKey: Uint8Array,
  message: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  truncatedMacInto(macKey, message, out, offset, MAC_LENGTH);
}
