/**
 * The symmetric primitives of Olm and Megolm, in one place: HMAC-SHA-256 (RFC 2104),
 * HKDF-SHA-256 (RFC 5869) and AES-256-CBC (FIPS 197, SP 800-38A) with PKCS#7 padding.
 *
 * Two implementations give the same bytes: the portable one is @noble/hashes and @noble/ciphers
 * (runs in browsers); the native one is Node's OpenSSL, reached at runtime through
 * `globalThis.process.getBuiltinModule` (never a static `node:` import, so browsers never see it).
 *
 * Which one runs was decided by measurement (`npm run bench -w packages/ratchet` prints the
 * table; the README records it): where `node:crypto` exists, everything goes to OpenSSL. Olm
 * and Megolm work on tiny inputs (1-byte HMAC messages in the ratchets, 32- to 128-byte keys,
 * message bodies of a few hundred bytes), where a call's fixed cost decides. Node's
 * `createHmac`, `createCipheriv` and `hkdfSync` given raw key bytes spend most of that cost
 * turning them into a key object through a generic path; handed a `createSecretKey` object
 * instead, each is 3–5× cheaper. HMAC, HKDF and SHA-256 then beat @noble's JavaScript at these
 * sizes; AES-CBC of 200 bytes alone stays somewhat faster on @noble (OpenSSL wins from about a
 * kilobyte), yet whole messages measured faster with AES on OpenSSL too. Whole Olm and Megolm
 * messages ran 25–70% faster all-native than on @noble, and faster than any mix tried, in
 * interleaved runs in one process. Native HMAC with a key of at most 64 bytes and a message of
 * at most 4 KiB (all of Olm's and Megolm's) is composed over OpenSSL's SHA-256 one-shot instead
 * of `createHmac` (`hash-hmac.ts`: no key or stream objects; Olm messages 5–16% faster).
 */
import { cbc } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { fitsHashHmac, type HashOneShot, hashHmac, hashHmacInto } from './hash-hmac.ts';
import {
  fitsNobleHmac,
  nobleHkdfInto,
  nobleHmac,
  nobleHmacInto,
  nobleHmacTruncatedInto,
} from './noble-hmac.ts';

/** The slice of `node:crypto` used here (typed locally: `src/` must not import Node's types). */
interface NodeCipher {
  setAutoPadding(on: boolean): NodeCipher;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeDigest {
  update(data: Uint8Array): { digest(): Uint8Array };
}
/** An OpenSSL key handle (`crypto.createSecretKey`). */
type SecretKey = object;
interface NodeCrypto {
  createSecretKey(key: Uint8Array): SecretKey;
  createHash(algorithm: 'sha256'): NodeDigest;
  hash?: HashOneShot;
  createHmac(algorithm: 'sha256', key: SecretKey): NodeDigest;
  hkdfSync(
    digest: 'sha256',
    ikm: SecretKey,
    salt: Uint8Array,
    info: Uint8Array,
    length: number,
  ): ArrayBuffer;
  createCipheriv(algorithm: 'aes-256-cbc', key: SecretKey, iv: Uint8Array): NodeCipher;
  createDecipheriv(algorithm: 'aes-256-cbc', key: SecretKey, iv: Uint8Array): NodeCipher;
}

function findNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return typeof mod?.hkdfSync === 'function' &&
      typeof mod.createCipheriv === 'function' &&
      typeof mod.createSecretKey === 'function'
      ? mod
      : undefined;
  } catch {
    return undefined;
  }
}

const nodeCrypto = findNodeCrypto();

/**
 * `auto`: the measured choice (`AUTO_ROUTES` where `node:crypto` exists, else @noble);
 * `portable` forces @noble, `native` OpenSSL, for every primitive.
 */
export type PrimitiveChoice = 'auto' | 'portable' | 'native';

/**
 * The primitives that can be routed separately: `hmacSteps` is several HMACs of one-byte seeds
 * under one key (the Olm chain step, the Megolm ratchet), `hmac` one HMAC of a message (the
 * message MACs), `hkdf` the key derivations, `aesEncrypt`/`aesDecrypt` AES-256-CBC.
 */
export type PrimitiveName =
  | 'sha256'
  | 'hmac'
  | 'hmacShort'
  | 'hmacSteps'
  | 'hkdf'
  | 'aesEncrypt'
  | 'aesDecrypt';

/**
 * HMACs of messages up to this many bytes take the `hmacShort` route, longer ones `hmac`. The
 * message MACs of Olm and Megolm over plaintexts up to ~250 bytes fall below it. Interleaved in
 * one process (2026-11-29, session 6), @noble's reused states (`noble-hmac.ts`) ran 1.43× OpenSSL's two
 * one-shots at 100 bytes, 1.13× at 250, 0.92× at 400 and 0.71× at 550: @noble costs a ~0.3 µs
 * compression per block, OpenSSL ~2 µs per call whatever the length.
 */
export const SHORT_HMAC_MAX = 320;

/** Where each primitive runs: @noble (`portable`) or OpenSSL (`native`). */
export type PrimitiveRoutes = Readonly<Record<PrimitiveName, 'portable' | 'native'>>;

const ALL_NATIVE: PrimitiveRoutes = {
  sha256: 'native',
  hmac: 'native',
  hmacShort: 'native',
  hmacSteps: 'native',
  hkdf: 'native',
  aesEncrypt: 'native',
  aesDecrypt: 'native',
};
const ALL_PORTABLE: PrimitiveRoutes = {
  sha256: 'portable',
  hmac: 'portable',
  hmacShort: 'portable',
  hmacSteps: 'portable',
  hkdf: 'portable',
  aesEncrypt: 'portable',
  aesDecrypt: 'portable',
};

/**
 * The measured choice where OpenSSL is available (README, Benchmarks): the chain steps, HKDF
 * and the MACs of short messages on @noble's reused states (`noble-hmac.ts`: a few 0.3 µs
 * compressions against OpenSSL's 1.5–2 µs per one-shot call), everything else on OpenSSL.
 */
export const AUTO_ROUTES: PrimitiveRoutes = {
  ...ALL_NATIVE,
  hmacShort: 'portable',
  hmacSteps: 'portable',
  hkdf: 'portable',
};

let routes: PrimitiveRoutes = nodeCrypto === undefined ? ALL_PORTABLE : AUTO_ROUTES;

/**
 * Selects the implementation (tests force each path; the bench compares them and mixes of the
 * two, given as `routes` per primitive). Returns whether native primitives can run at all:
 * asking for `native` without `node:crypto` stays portable.
 */
export function selectPrimitives(next: PrimitiveChoice | PrimitiveRoutes): boolean {
  if (nodeCrypto === undefined) routes = ALL_PORTABLE;
  else if (next === 'auto') routes = AUTO_ROUTES;
  else if (next === 'native') routes = ALL_NATIVE;
  else if (next === 'portable') routes = ALL_PORTABLE;
  else routes = { ...next };
  return nodeCrypto !== undefined;
}

/** The OpenSSL handle when the current routes send `name` to it. */
function native(name: PrimitiveName): NodeCrypto | undefined {
  return routes[name] === 'native' ? nodeCrypto : undefined;
}

/**
 * An OpenSSL result as a plain Uint8Array over the same memory, without copying. Node returns
 * digests and cipher output in Buffers with their own ArrayBuffer (not the shared pool), and a
 * plain view keeps Uint8Array semantics for callers (`Buffer#slice` would return a view, so a
 * caller that slices a key out and wipes the original would wipe the key too).
 */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Wraps key bytes in an OpenSSL key object. Node's `createHmac`, `createCipheriv` and `hkdfSync`
 * given raw bytes build such an object internally through a slow generic path (~5× the cost of
 * the whole HMAC of a short message, measured); `createSecretKey` does it directly. OpenSSL
 * keeps its own copy of the key until the object is garbage-collected (see README, Zeroing).
 */
function secretKey(node: NodeCrypto, key: Uint8Array): SecretKey {
  return node.createSecretKey(key);
}

/** SHA-256 (FIPS 180-4), 32 bytes. */
export function sha256Digest(data: Uint8Array): Uint8Array {
  const node = native('sha256');
  if (node === undefined) return sha256(data);
  // `crypto.hash` (Node ≥ 21.7) is a one-shot without a Hash object.
  return plain(
    node.hash?.('sha256', data, 'buffer') ?? node.createHash('sha256').update(data).digest(),
  );
}

/** The route of one HMAC of `length` bytes: `hmacShort` up to `SHORT_HMAC_MAX`, else `hmac`. */
function hmacRoute(length: number): NodeCrypto | undefined {
  return native(length <= SHORT_HMAC_MAX ? 'hmacShort' : 'hmac');
}

/** HMAC-SHA-256 (RFC 2104), 32 bytes. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const node = hmacRoute(data.length);
  if (node === undefined)
    return fitsNobleHmac(key) ? nobleHmac(key, data) : hmac(sha256, key, data);
  // Composed over `crypto.hash` where it fits (`hash-hmac.ts` says why).
  if (node.hash !== undefined && fitsHashHmac(key, data.length))
    return hashHmac(node.hash, key, data);
  return plain(node.createHmac('sha256', secretKey(node, key)).update(data).digest());
}

/**
 * The first `length` (1..32) bytes of HMAC-SHA-256(`key`, `data`) written into `out` at `offset`
 * (a message's truncated MAC, laid out in place or into a reused buffer): no result array on
 * @noble's path; OpenSSL's digest is copied and wiped. `out` may be the buffer `data` views.
 */
export function hmacSha256TruncatedInto(
  key: Uint8Array,
  data: Uint8Array,
  out: Uint8Array,
  offset: number,
  length: number,
): void {
  if (!Number.isInteger(length) || length < 1 || length > 32 || offset + length > out.length) {
    throw new RangeError('truncated HMAC must be 1..32 bytes within the output');
  }
  const node = hmacRoute(data.length);
  if (node === undefined && fitsNobleHmac(key)) {
    nobleHmacTruncatedInto(key, data, out, offset, length);
    return;
  }
  const digest = hmacSha256(key, data);
  for (let i = 0; i < length; i++) out[offset + i] = digest[i] as number;
  digest.fill(0);
}

/**
 * HMAC-SHA-256 of each of `messages` under one `key`, written into the 32-byte `outputs` (views
 * into a caller's buffer are fine). The ratchets MAC several one-byte seeds under the same chain
 * key: on @noble the key is absorbed once for all of them (`noble-hmac.ts`), on OpenSSL the
 * padded keys are built once (`hash-hmac.ts`). The last output may be `key` itself (a chain key
 * stepped in place): every path has read the key before it writes that output.
 */
export function hmacSha256Into(
  key: Uint8Array,
  messages: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
): void {
  if (messages.length !== outputs.length) throw new RangeError('one output per message');
  const count = messages.length;
  for (let i = 0; i < count; i++) {
    if ((outputs[i] as Uint8Array).length !== 32) {
      throw new RangeError('HMAC outputs must be 32 bytes');
    }
  }
  if (count === 0) return;
  const node = native('hmacSteps');
  if (node === undefined) {
    if (fitsNobleHmac(key)) nobleHmacInto(key, messages, outputs);
    else
      for (let i = 0; i < count; i++)
        (outputs[i] as Uint8Array).set(hmac(sha256, key, messages[i] as Uint8Array));
    return;
  }
  if (node.hash !== undefined && fitsHashHmacAll(key, messages)) {
    hashHmacInto(node.hash, key, messages, outputs);
    return;
  }
  // One key object serves every message.
  const keyObject = secretKey(node, key);
  for (let i = 0; i < count; i++) {
    // A plain view, so the wipe is TypedArray#fill, not Buffer#fill's argument parsing.
    const digest = plain(
      node
        .createHmac('sha256', keyObject)
        .update(messages[i] as Uint8Array)
        .digest(),
    );
    (outputs[i] as Uint8Array).set(digest);
    digest.fill(0);
  }
}

/** `fitsHashHmac` for every message (a loop: `every` would allocate a closure per call). */
function fitsHashHmacAll(key: Uint8Array, messages: readonly Uint8Array[]): boolean {
  for (let i = 0; i < messages.length; i++) {
    if (!fitsHashHmac(key, (messages[i] as Uint8Array).length)) return false;
  }
  return true;
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
  const okm = new Uint8Array(length);
  hkdfSha256Into(ikm, salt, info, okm);
  return okm;
}

/**
 * HKDF-SHA-256 into `out` (1..8160 bytes), so that a caller can reuse one buffer for the keys
 * of every message (`CipherKeysBuffer` in `cipher.ts`).
 */
export function hkdfSha256Into(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  out: Uint8Array,
): void {
  const length = out.length;
  if (length < 1 || length > 255 * 32) throw new RangeError('HKDF length must be 1..8160');
  // OpenSSL's HKDF takes at most 1024 bytes of info; Olm's info strings are a few bytes.
  const node = info.length <= 1024 ? native('hkdf') : undefined;
  if (node === undefined && fitsNobleHmac(salt)) {
    nobleHkdfInto(ikm, salt, info, out);
    return;
  }
  // Every salt of Olm's and Megolm's fits `noble-hmac.ts`; longer ones take @noble's `hkdf`.
  const okm =
    node === undefined
      ? hkdf(sha256, ikm, salt, info, length)
      : new Uint8Array(node.hkdfSync('sha256', secretKey(node, ikm), salt, info, length));
  out.set(okm);
  okm.fill(0);
}

/** AES-256-CBC with PKCS#7 padding (RFC 5652 §6.3); any plaintext length. */
export function aes256CbcEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const node = native('aesEncrypt');
  if (node === undefined) return cbc(key, iv).encrypt(plaintext);
  // Padded here, so OpenSSL gets whole blocks and returns all of them from one `update`: no
  // `final` call and no joining of two outputs (measured ~10% of a 200-byte encryption).
  const padded = pad(plaintext);
  try {
    const cipher = node.createCipheriv('aes-256-cbc', secretKey(node, key), iv);
    return plain(cipher.setAutoPadding(false).update(padded));
  } finally {
    // Wiped even when OpenSSL refuses the key or IV: the shared pad buffer holds plaintext.
    padded.fill(0);
  }
}

/**
 * Padded plaintexts up to this size are built in one reused buffer instead of a fresh one: V8
 * keeps typed arrays above 64 bytes outside its heap, so each costs an allocation and later
 * garbage-collection work (~1.3 µs of a 200-byte encryption, measured). Everything here is
 * synchronous and the buffer is wiped after each use, so no caller sees another's plaintext.
 */
const PAD_SCRATCH_LENGTH = 4096;
const padScratch = new Uint8Array(PAD_SCRATCH_LENGTH);

/**
 * PKCS#7 padding to a whole number of 16-byte blocks (1..16 bytes of value n). Short inputs are
 * padded into `padScratch` (a view of it is returned); the caller wipes the result after use.
 */
function pad(plaintext: Uint8Array): Uint8Array {
  const n = 16 - (plaintext.length % 16);
  const length = plaintext.length + n;
  const padded =
    length <= PAD_SCRATCH_LENGTH ? padScratch.subarray(0, length) : new Uint8Array(length);
  padded.set(plaintext);
  padded.fill(n, plaintext.length);
  return padded;
}

/**
 * AES-256-CBC decryption of whole blocks, then PKCS#7 unpadding; `undefined` when the length is
 * not a whole number of blocks or the padding is invalid. Both paths decrypt without padding
 * and share `unpad`, so they accept and reject exactly the same inputs.
 */
export function aes256CbcDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return undefined;
  const node = native('aesDecrypt');
  let padded: Uint8Array;
  if (node === undefined) {
    padded = cbc(key, iv, { disablePadding: true }).decrypt(ciphertext);
  } else {
    // Whole blocks without padding: `update` returns all of them, `final` would add nothing.
    const decipher = node.createDecipheriv('aes-256-cbc', secretKey(node, key), iv);
    padded = decipher.setAutoPadding(false).update(ciphertext);
  }
  const length = unpaddedLength(padded);
  if (length < 0) {
    padded.fill(0);
    return undefined;
  }
  // The plaintext is a plain view of the decrypted blocks, not a copy: its `buffer` (OpenSSL's
  // output has one of its own, exactly as long) goes on with the padding, 1..16 bytes of a
  // public value. A copy is one more off-heap array per message: interleaved in one process,
  // Olm encrypt + decrypt ran 1.10–1.14× faster without it (session 6).
  return new Uint8Array(padded.buffer, padded.byteOffset, length);
}

/**
 * The length without PKCS#7 padding, or −1 when the padding is invalid: the last byte n must be
 * 1..16 and the last n bytes must all equal n. Every one of the last 16 bytes is examined
 * whatever n is, so the work does not depend on where a bad byte sits (the MAC is always checked
 * first, so this is defence in depth).
 */
function unpaddedLength(padded: Uint8Array): number {
  const length = padded.length;
  if (length === 0 || length % 16 !== 0) return -1;
  const n = padded[length - 1] as number;
  let bad = (n === 0 ? 1 : 0) | (n > 16 ? 1 : 0);
  for (let i = 1; i <= 16; i++) {
    const inPadding = i <= n ? 1 : 0;
    bad |= inPadding & ((padded[length - i] as number) !== n ? 1 : 0);
  }
  return bad === 0 ? length - n : -1;
}
