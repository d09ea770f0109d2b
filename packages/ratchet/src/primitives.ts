/**
 * The symmetric primitives of Olm and Megolm, in one place: HMAC-SHA-256 (RFC 2104),
 * HKDF-SHA-256 (RFC 5869) and AES-256-CBC (FIPS 197, SP 800-38A) with PKCS#7 padding.
 *
 * Two implementations give the same bytes: the portable one is @noble/hashes and @noble/ciphers
 * (runs in browsers); the native one is Node's OpenSSL, reached at runtime through
 * `globalThis.process.getBuiltinModule` (never a static `node:` import, so browsers never see it).
 *
 * Which one runs is decided per primitive by measurement (`npm run bench -w packages/ratchet`
 * prints the table; the README records it). Olm and Megolm work on tiny inputs: 1-byte HMAC
 * messages in the ratchets, 32- to 128-byte keys, message bodies of a few hundred bytes. There
 * the fixed cost of each OpenSSL call (`createHmac` and `createCipheriv` build a context object;
 * `hkdfSync` wraps its key in a KeyObject) exceeds the work: @noble's HMAC and AES-CBC are 2–3×
 * faster per call, and although `hkdfSync` alone is ~15% faster than @noble's HKDF, a whole Olm
 * encrypt was measured ~15% slower with it (the extra objects cost more in garbage collection
 * than the call saves). OpenSSL wins only from about a kilobyte, for HMAC and AES. So, on the
 * automatic choice: @noble for everything, except HMAC and AES-CBC inputs of `NATIVE_FROM_BYTES`
 * or more (large Megolm or Olm messages), which go to OpenSSL.
 */
import { cbc } from '@noble/ciphers/aes.js';
import { expand } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** The slice of `node:crypto` used here (typed locally: `src/` must not import Node's types). */
interface NodeCipher {
  setAutoPadding(on: boolean): NodeCipher;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeDigest {
  update(data: Uint8Array): { digest(): Uint8Array };
}
interface NodeCrypto {
  createHash(algorithm: 'sha256'): NodeDigest;
  createHmac(algorithm: 'sha256', key: Uint8Array): NodeDigest;
  hkdfSync(
    digest: 'sha256',
    ikm: Uint8Array,
    salt: Uint8Array,
    info: Uint8Array,
    length: number,
  ): ArrayBuffer;
  createCipheriv(algorithm: 'aes-256-cbc', key: Uint8Array, iv: Uint8Array): NodeCipher;
  createDecipheriv(algorithm: 'aes-256-cbc', key: Uint8Array, iv: Uint8Array): NodeCipher;
}

function findNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return typeof mod?.hkdfSync === 'function' && typeof mod.createCipheriv === 'function'
      ? mod
      : undefined;
  } catch {
    return undefined;
  }
}

const nodeCrypto = findNodeCrypto();

/** @noble's keyed HMAC state, as `hmac.create` returns it. */
type KeyedHmac = ReturnType<typeof hmac.create>;

/**
 * Below this many input bytes HMAC and AES-CBC stay on @noble even where OpenSSL is available:
 * measured, OpenSSL's per-call setup costs more than @noble's whole computation for short inputs.
 */
export const NATIVE_FROM_BYTES = 1024;

/** `auto`: the measured per-primitive choice; `portable` / `native`: one path for everything. */
export type PrimitiveChoice = 'auto' | 'portable' | 'native';

let choice: PrimitiveChoice = 'auto';

/**
 * Selects the implementation (tests force each path; the bench compares them). Returns whether
 * native primitives can run at all: asking for `native` without `node:crypto` stays portable.
 */
export function selectPrimitives(next: PrimitiveChoice): boolean {
  choice = nodeCrypto === undefined ? 'portable' : next;
  return nodeCrypto !== undefined;
}

/**
 * The OpenSSL handle when the current choice sends an input of `size` bytes to it; `size`
 * `undefined` means the primitive never goes native on the automatic choice.
 */
function native(size: number | undefined): NodeCrypto | undefined {
  if (choice === 'native') return nodeCrypto;
  if (choice === 'auto' && size !== undefined && size >= NATIVE_FROM_BYTES) return nodeCrypto;
  return undefined;
}

/** Copies an OpenSSL result into a plain Uint8Array and wipes the original. */
function own(buffer: Uint8Array): Uint8Array {
  const out = Uint8Array.from(buffer);
  buffer.fill(0);
  return out;
}

/**
 * SHA-256 (FIPS 180-4), 32 bytes. @noble on the automatic choice: its only use, the Olm session
 * ID, hashes 96 bytes, where `createHash` is no faster.
 */
export function sha256Digest(data: Uint8Array): Uint8Array {
  const node = native(undefined);
  if (node !== undefined) return own(node.createHash('sha256').update(data).digest());
  return sha256(data);
}

/** HMAC-SHA-256 (RFC 2104), 32 bytes. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const node = native(data.length);
  if (node !== undefined) return own(node.createHmac('sha256', key).update(data).digest());
  return hmac(sha256, key, data);
}

/**
 * HMAC-SHA-256 of each of `messages` under one `key`, written into the 32-byte `outputs` (views
 * into a caller's buffer are fine). The ratchets MAC several one-byte seeds under the same chain
 * key; on @noble the key is absorbed once (`hmac.create`) and the keyed state is cloned into one
 * reused worker per message, saving the two key-block compressions and the allocations of each
 * further HMAC. The keyed state and the worker are wiped by their final digests.
 */
export function hmacSha256Into(
  key: Uint8Array,
  messages: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): void {
  if (messages.length !== outputs.length) throw new RangeError('one output per message');
  const count = messages.length;
  if (count === 0) return;
  for (const out of outputs) {
    if (out.length !== 32) throw new RangeError('HMAC outputs must be 32 bytes');
  }
  const node = native(Math.max(...messages.map((m) => m.length)));
  if (node !== undefined) {
    for (let i = 0; i < count; i++) {
      const digest = node
        .createHmac('sha256', key)
        .update(messages[i] as Uint8Array)
        .digest();
      (outputs[i] as Uint8Array).set(digest);
      digest.fill(0);
    }
    return;
  }
  const keyed: KeyedHmac = hmac.create(sha256, key);
  for (let i = 0; i < count - 1; i++) {
    const work = keyed._cloneInto(CLONE_WORKER);
    work.update(messages[i] as Uint8Array).digestInto(outputs[i] as Uint8Array);
  }
  keyed.update(messages[count - 1] as Uint8Array).digestInto(outputs[count - 1] as Uint8Array);
}

// HMAC-SHA-256 keyed with HKDF's all-zero salt, which is the salt of every Olm and Megolm
// derivation but one: absorbed once here, then cloned for each extract step (RFC 5869 §2.2). The
// key is public, so keeping its keyed state is harmless.
const ZERO_SALT_HMAC = hmac.create(sha256, new Uint8Array(32));

// Reused HMAC states that keyed states are cloned into (`_cloneInto` overwrites every field),
// sparing a fresh pair of SHA-256 objects per clone. Everything here is synchronous, so no two
// uses overlap; each use ends in a digest, which wipes the worker's state and buffer.
const EXTRACT_WORKER = ZERO_SALT_HMAC.clone();
const CLONE_WORKER = ZERO_SALT_HMAC.clone();

/** Whether `salt` is 32 zero bytes, examining every byte (the salt may be a secret root key). */
function isZeroSalt(salt: Uint8Array): boolean {
  if (salt.length !== 32) return false;
  let acc = 0;
  for (let i = 0; i < 32; i++) acc |= salt[i] as number;
  return acc === 0;
}

/** HKDF-SHA-256 (RFC 5869 §2.2 extract, §2.3 expand); `length` is 1..8160. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError('HKDF length must be 1..8160');
  }
  // OpenSSL's HKDF takes at most 1024 bytes of info; Olm's info strings are a few bytes.
  const node = info.length <= 1024 ? native(undefined) : undefined;
  if (node !== undefined) return new Uint8Array(node.hkdfSync('sha256', ikm, salt, info, length));
  // @noble's `hkdf` is `expand(extract(...))` with the extract HMAC handed on for reuse; doing the
  // same here lets the zero salt's keyed state be cloned instead of rebuilt.
  const extract = isZeroSalt(salt)
    ? ZERO_SALT_HMAC._cloneInto(EXTRACT_WORKER)
    : hmac.create(sha256, salt);
  const prk = new Uint8Array(32);
  extract.update(ikm).digestInto(prk);
  // With the extract HMAC passed as `_recycled`, `expand` owns and wipes `prk`.
  return expand(sha256, prk, info, length, extract);
}

/** AES-256-CBC with PKCS#7 padding (RFC 5652 §6.3); any plaintext length. */
export function aes256CbcEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const node = native(plaintext.length);
  if (node === undefined) return cbc(key, iv).encrypt(plaintext);
  const cipher = node.createCipheriv('aes-256-cbc', key, iv);
  return join(cipher.update(plaintext), cipher.final());
}

/**
 * AES-256-CBC decryption of whole blocks (the caller checks the length), then PKCS#7 unpadding;
 * `undefined` when the padding is invalid. Both paths decrypt without padding and share
 * `unpad`, so they accept and reject exactly the same inputs.
 */
export function aes256CbcDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  const node = native(ciphertext.length);
  let padded: Uint8Array;
  if (node === undefined) {
    padded = cbc(key, iv, { disablePadding: true }).decrypt(ciphertext);
  } else {
    const decipher = node.createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    padded = join(decipher.update(ciphertext), decipher.final());
  }
  const plaintext = unpad(padded);
  padded.fill(0);
  return plaintext;
}

/** Two OpenSSL output chunks as one plain Uint8Array; the chunks are wiped. */
function join(head: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  head.fill(0);
  tail.fill(0);
  return out;
}

/**
 * Strips PKCS#7 padding: the last byte n must be 1..16 and the last n bytes must all equal n.
 * Every one of the last 16 bytes is examined whatever n is, so the work does not depend on
 * where a bad byte sits (the MAC is always checked first, so this is defence in depth).
 */
function unpad(padded: Uint8Array): Uint8Array | undefined {
  const length = padded.length;
  if (length === 0 || length % 16 !== 0) return undefined;
  const n = padded[length - 1] as number;
  let bad = (n === 0 ? 1 : 0) | (n > 16 ? 1 : 0);
  for (let i = 1; i <= 16; i++) {
    const inPadding = i <= n ? 1 : 0;
    bad |= inPadding & ((padded[length - i] as number) !== n ? 1 : 0);
  }
  return bad === 0 ? padded.slice(0, length - n) : undefined;
}
