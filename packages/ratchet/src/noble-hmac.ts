/**
 * HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256 (RFC 5869) over @noble/hashes' SHA-256, with no
 * allocation per call: the portable path of `primitives.ts`, and on Node the path of the
 * primitives where it measured faster than OpenSSL (`AUTO_ROUTES` there).
 *
 * Why: Olm's and Megolm's inputs are one to five SHA-256 blocks, where a call's fixed cost
 * decides. @noble's `hmac(sha256, key, msg)` builds two SHA-256 objects, a padded key and
 * `DataView`s per call (~5 µs); OpenSSL's one-shots cost 1.5–2 µs each of JavaScript-to-native
 * overhead whatever the length. A reused @noble SHA-256 state compresses a block in ~0.3 µs (a
 * whole one-block hash, with the digest's own work, ~0.6 µs), measured on the benchmark machine. So
 * the keyed HMAC states (inner after K′ ⊕ ipad, outer after K′ ⊕ opad) are built into reused
 * objects and cloned into one reused worker per digest (`_cloneInto` overwrites every field).
 * HKDF's extract under the all-zero salt, the salt of every Olm and Megolm message key, starts
 * from a keyed state built once for the process (the salt is public).
 *
 * SHA-256 itself is @noble's; only RFC 2104's composition is written here, as @noble's own
 * `hmac` writes it. Keys are at most one 64-byte block (all of Olm's and Megolm's); callers check
 * with `fitsNobleHmac` and send longer keys to @noble's `hmac`.
 *
 * Everything is synchronous, so no two uses of the shared states overlap. The keyed states, the
 * worker and the intermediate digests are secret-derived: each call wipes them before it returns
 * (`destroy` zeroes a state's words and its block buffer), also when it throws.
 */
import { sha256 } from '@noble/hashes/sha2.js';

type Sha256 = ReturnType<typeof sha256.create>;

const BLOCK = 64;
const DIGEST = 32;

/** The initial SHA-256 state, cloned to start each keyed state; never updated. */
const INITIAL: Sha256 = sha256.create();

/** A key's inner and outer states: SHA-256 after absorbing K′ ⊕ ipad and K′ ⊕ opad. */
interface KeyedStates {
  readonly inner: Sha256;
  readonly outer: Sha256;
}

const keyBlock = new Uint8Array(BLOCK);
// @noble's `update` wraps a whole block of input in a fresh `DataView` (with the digests' own
// views, ~4% of an Olm round trip in a profile); given in two halves, the block goes through
// the state's own buffer and its cached view instead.
const keyHalves = [keyBlock.subarray(0, BLOCK / 2), keyBlock.subarray(BLOCK / 2)] as const;

function absorbKeyBlock(state: Sha256): void {
  INITIAL._cloneInto(state).update(keyHalves[0]).update(keyHalves[1]);
}

function keyInto(states: KeyedStates, key: Uint8Array): void {
  const length = key.length;
  try {
    for (let i = 0; i < length; i++) keyBlock[i] = (key[i] as number) ^ 0x36;
    keyBlock.fill(0x36, length);
    absorbKeyBlock(states.inner);
    for (let i = 0; i < length; i++) keyBlock[i] = (key[i] as number) ^ 0x5c;
    keyBlock.fill(0x5c, length);
    absorbKeyBlock(states.outer);
  } finally {
    keyBlock.fill(0);
  }
}

function newStates(): KeyedStates {
  return { inner: sha256.create(), outer: sha256.create() };
}

/** The states of the key in use (the chain key, a MAC key, HKDF's PRK or a nonzero salt). */
const KEYED = newStates();
/** HMAC keyed with HKDF's all-zero 32-byte salt, built once (RFC 5869 §2.2). */
const ZERO_SALT = newStates();
keyInto(ZERO_SALT, new Uint8Array(DIGEST));
/** The state each digest runs on, cloned from a keyed state. */
const WORK: Sha256 = sha256.create();
/**
 * WORK's block buffer (a protected member of @noble's class, never replaced): digesting into it
 * uses its cached `DataView`, where any other output array gets a fresh one per digest.
 */
const workBuffer = (WORK as unknown as { buffer: Uint8Array }).buffer;
/** The inner digest H((K′ ⊕ ipad) ‖ m), then the HMAC (HKDF's T(n) blocks among them). */
const digest = new Uint8Array(DIGEST);
/** HKDF's pseudorandom key. */
const prk = new Uint8Array(DIGEST);
const counter = new Uint8Array(1);

/** Keys at most one block long, the only ones this module takes. */
export function fitsNobleHmac(key: Uint8Array): boolean {
  return key.length <= BLOCK;
}

/**
 * HMAC of `a ‖ b ‖ c` (`b`, `c` optional) under the keyed `states`; the result is left in
 * `digest`, whose previous content may be one of the parts (it is absorbed first).
 */
function mac(
  states: KeyedStates,
  a: Uint8Array,
  b: Uint8Array | undefined,
  c: Uint8Array | undefined,
): void {
  const work = states.inner._cloneInto(WORK);
  work.update(a);
  if (b !== undefined) work.update(b);
  if (c !== undefined) work.update(c);
  work.digestInto(workBuffer);
  for (let i = 0; i < DIGEST; i++) digest[i] = workBuffer[i] as number;
  // Cloning the outer state leaves `workBuffer` as it is (the outer state has no partial block).
  states.outer._cloneInto(WORK).update(digest).digestInto(workBuffer);
  for (let i = 0; i < DIGEST; i++) digest[i] = workBuffer[i] as number;
}

function wipe(): void {
  KEYED.inner.destroy();
  KEYED.outer.destroy();
  WORK.destroy();
  digest.fill(0);
}

/** HMAC-SHA-256 of `message` under `key` (at most 64 bytes); a fresh 32-byte array. */
export function nobleHmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  try {
    keyInto(KEYED, key);
    mac(KEYED, message, undefined, undefined);
    return digest.slice();
  } finally {
    wipe();
  }
}

/**
 * The first `length` bytes of the HMAC of `message` under `key` (at most 64 bytes), written into
 * `out` at `offset` (a truncated message MAC, without a result array).
 */
export function nobleHmacTruncatedInto(
  key: Uint8Array,
  message: Uint8Array,
  out: Uint8Array,
  offset: number,
  length: number,
): void {
  try {
    keyInto(KEYED, key);
    mac(KEYED, message, undefined, undefined);
    for (let i = 0; i < length; i++) out[offset + i] = digest[i] as number;
  } finally {
    wipe();
  }
}

/**
 * HMAC-SHA-256 of each of `messages` under one `key` (at most 64 bytes), into the 32-byte
 * `outputs`: the key is absorbed once for all of them.
 */
export function nobleHmacInto(
  key: Uint8Array,
  messages: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): void {
  try {
    keyInto(KEYED, key);
    for (let i = 0; i < messages.length; i++) {
      mac(KEYED, messages[i] as Uint8Array, undefined, undefined);
      (outputs[i] as Uint8Array).set(digest);
    }
  } finally {
    wipe();
  }
}

/**
 * HKDF-SHA-256 (RFC 5869 §2.2 extract, §2.3 expand) with a salt of at most 64 bytes, into `out`
 * (1..8160 bytes, checked by the caller).
 */
export function nobleHkdfInto(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  out: Uint8Array,
): void {
  try {
    // Extract: PRK = HMAC(salt, IKM).
    let extract = ZERO_SALT;
    if (!isZeroSalt(salt)) {
      keyInto(KEYED, salt);
      extract = KEYED;
    }
    mac(extract, ikm, undefined, undefined);
    prk.set(digest);
    // Expand: T(n) = HMAC(PRK, T(n−1) ‖ info ‖ n), T(0) empty; `out` = T(1) ‖ T(2) ‖ … cut short.
    keyInto(KEYED, prk);
    for (let offset = 0, n = 1; offset < out.length; offset += DIGEST, n++) {
      counter[0] = n;
      // T(n − 1) is still in `digest`, which `mac` absorbs before overwriting it.
      if (n === 1) mac(KEYED, info, counter, undefined);
      else mac(KEYED, digest, info, counter);
      const take = Math.min(DIGEST, out.length - offset);
      for (let i = 0; i < take; i++) out[offset + i] = digest[i] as number;
    }
  } finally {
    prk.fill(0);
    counter[0] = 0;
    wipe();
  }
}

/** Whether `salt` is 32 zero bytes, examining every byte (the salt may be a secret root key). */
function isZeroSalt(salt: Uint8Array): boolean {
  if (salt.length !== DIGEST) return false;
  let acc = 0;
  for (let i = 0; i < DIGEST; i++) acc |= salt[i] as number;
  return acc === 0;
}

/**
 * True when every reused state and buffer holding secret-derived bytes is zero (for the tests:
 * each call must leave nothing behind). The zero-salt states hold a public key and are skipped.
 */
export function scratchIsWiped(): boolean {
  const zero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);
  // A state's words and block buffer are protected members of @noble's class.
  const wipedState = (state: Sha256): boolean => {
    const open = state as unknown as { get(): number[]; buffer: Uint8Array };
    return open.get().every((word) => word === 0) && zero(open.buffer);
  };
  return (
    wipedState(KEYED.inner) &&
    wipedState(KEYED.outer) &&
    wipedState(WORK) &&
    zero(digest) &&
    zero(prk) &&
    zero(keyBlock) &&
    zero(counter)
  );
}
