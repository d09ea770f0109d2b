/**
 * HMAC-SHA-256 (RFC 2104) composed over OpenSSL's SHA-256 one-shot, Node's `crypto.hash`
 * (Node ≥ 21.7), for the native path of `primitives.ts`.
 *
 * Why: Olm and Megolm MAC 1- to 300-byte inputs under a fresh key each time, where Node's
 * `createHmac` costs more in objects than in hashing: a `KeyObject` for the key and an `Hmac`
 * stream object per call, each with a native handle that the garbage collector must finalise.
 * `crypto.hash` creates neither, only its 32-byte result. Interleaved in one process, Olm
 * messages ran 5–16% and Megolm encryption 4–14% faster with it (README, Benchmarks). SHA-256
 * itself is still OpenSSL's; only the textbook composition is written here, and the tests check
 * it byte for byte against OpenSSL's `createHmac` and @noble's `hmac`. (HKDF composed the same
 * way measured no faster than `hkdfSync`, which stays.)
 *
 * HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)), K' = K zero-padded to the 64-byte block
 * (RFC 2104 §2; keys here are at most 64 bytes, so K is never hashed first).
 *
 * The padded keys, the inner input and the inner digest are secret-derived: they live in reused
 * buffers (everything is synchronous, so no two uses overlap) and are wiped after each call,
 * also when a call throws.
 */

/** `crypto.hash(algorithm, data, 'buffer')`. */
export type HashOneShot = (
  algorithm: 'sha256',
  data: Uint8Array,
  outputEncoding: 'buffer',
) => Uint8Array;

const BLOCK = 64;
/** The longest message the reused buffer takes; callers check with `fitsHashHmac` first. */
export const MAX_HASH_HMAC_DATA = 4096;

// K' ⊕ ipad followed by the message; K' ⊕ opad followed by the inner digest.
const inner = new Uint8Array(BLOCK + MAX_HASH_HMAC_DATA);
const outer = new Uint8Array(BLOCK + 32);

/** Keys at most one block long, the only ones this module takes. */
export function fitsHashHmac(key: Uint8Array, dataLength: number): boolean {
  return key.length <= BLOCK && dataLength <= MAX_HASH_HMAC_DATA;
}

function setKey(key: Uint8Array): void {
  for (let i = 0; i < key.length; i++) {
    const k = key[i] as number;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  inner.fill(0x36, key.length, BLOCK);
  outer.fill(0x5c, key.length, BLOCK);
}

/**
 * The HMAC of `message` under the key last given to `setKey`, as a plain array over the
 * result's own memory (Node does not pool digests), which the caller owns and wipes.
 */
function mac(hash: HashOneShot, message: Uint8Array): Uint8Array {
  inner.set(message, BLOCK);
  let innerDigest: Uint8Array;
  try {
    innerDigest = hash('sha256', inner.subarray(0, BLOCK + message.length), 'buffer');
  } finally {
    inner.fill(0, BLOCK, BLOCK + message.length);
  }
  outer.set(innerDigest, BLOCK);
  // A plain view, so the wipe is TypedArray#fill, not Buffer#fill's argument parsing.
  new Uint8Array(innerDigest.buffer, innerDigest.byteOffset, 32).fill(0);
  const digest = hash('sha256', outer, 'buffer');
  return new Uint8Array(digest.buffer, digest.byteOffset, 32);
}

function wipe(): void {
  inner.fill(0, 0, BLOCK);
  outer.fill(0);
}

/** HMAC-SHA-256 of `message` under `key` (32 bytes, owned by the caller). */
export function hashHmac(hash: HashOneShot, key: Uint8Array, message: Uint8Array): Uint8Array {
  try {
    setKey(key);
    return mac(hash, message);
  } finally {
    wipe();
  }
}

/** HMAC-SHA-256 of each of `messages` under one `key`, into the 32-byte `outputs`. */
export function hashHmacInto(
  hash: HashOneShot,
  key: Uint8Array,
  messages: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): void {
  try {
    setKey(key);
    for (let i = 0; i < messages.length; i++) {
      const digest = mac(hash, messages[i] as Uint8Array);
      (outputs[i] as Uint8Array).set(digest);
      digest.fill(0);
    }
  } finally {
    wipe();
  }
}
