/**
 * The AES-256-CBC + HMAC-SHA-256 construction shared by Olm and Megolm.
 *
 * libolm docs/olm.md "Version 1" and docs/megolm.md "Encryption": from a 32-byte message key,
 * HKDF-SHA-256 with a zero salt and a protocol-specific info string yields 80 bytes, split as the
 * AES-256 key (32), the HMAC-SHA-256 key (32) and the CBC IV (16). The plaintext is PKCS#7-padded
 * and encrypted with AES-256-CBC; callers MAC the encoded message with `hmacSha256` and truncate.
 */
import { RatchetError } from './errors.ts';
import {
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  hkdfSha256 as hkdf,
  hkdfSha256Into as hkdfInto,
  hmacSha256 as hmac,
  hmacSha256TruncatedInto,
} from './primitives.ts';

/** The three keys derived from one message key. */
export interface CipherKeys {
  readonly aesKey: Uint8Array;
  readonly macKey: Uint8Array;
  readonly iv: Uint8Array;
}

const ZERO_SALT = new Uint8Array(32);
const encoder = new TextEncoder();

function requireBytes(value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** HKDF-SHA-256 (RFC 5869) output keying material (`primitives.ts`), with argument checks. */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  requireBytes(ikm, 'ikm');
  requireBytes(salt, 'salt');
  requireBytes(info, 'info');
  return hkdf(ikm, salt, info, length);
}

/** HKDF-SHA-256 (RFC 5869) with a zero salt, `info` as UTF-8, split into AES key, MAC key, IV. */
export function deriveCipherKeys(secret: Uint8Array, info: string): CipherKeys {
  requireBytes(secret, 'secret');
  if (typeof info !== 'string') throw new TypeError('info must be a string');
  // A 32-byte zero salt equals HKDF's "no salt" default (RFC 5869 §2.2), as libolm passes.
  const okm = hkdfSha256(secret, ZERO_SALT, infoBytes(info), 80);
  // Views of one buffer: `zeroizeKeys` clears all three at once. (Three arrays of at most 64
  // bytes each would live on V8's heap, but OpenSSL's calls then copy the AES key and IV out of
  // it into buffers of their own: slower, measured.)
  return { aesKey: okm.subarray(0, 32), macKey: okm.subarray(32, 64), iv: okm.subarray(64, 80) };
}

/**
 * Reusable message keys for one call site that derives keys, uses them and wipes them
 * (`zeroizeKeys`) before deriving again, all synchronously: Olm's message path, where fresh key
 * arrays measured ~0.9 KB of garbage per message (V8 gives each small typed array its own
 * array-buffer object). The three keys are views of one 80-byte buffer.
 */
export class CipherKeysBuffer implements CipherKeys {
  readonly #okm = new Uint8Array(80);
  readonly aesKey = this.#okm.subarray(0, 32);
  readonly macKey = this.#okm.subarray(32, 64);
  readonly iv = this.#okm.subarray(64, 80);

  /** HKDF-SHA-256(zero salt, `secret`, `info` as UTF-8, 80 bytes) into the three keys. */
  derive(secret: Uint8Array, info: string): this {
    requireBytes(secret, 'secret');
    hkdfInto(secret, ZERO_SALT, infoBytes(info), this.#okm);
    return this;
  }
}

// The info strings are a few protocol constants ("MEGOLM_KEYS", "OLM_KEYS", "Pickle"), so their
// UTF-8 bytes are cached; the cache is bounded in case a caller passes many distinct strings.
const infoCache = new Map<string, Uint8Array>();

function infoBytes(info: string): Uint8Array {
  let bytes = infoCache.get(info);
  if (bytes === undefined) {
    bytes = encoder.encode(info);
    if (infoCache.size < 16) infoCache.set(info, bytes);
  }
  return bytes;
}

function checkKeys(keys: CipherKeys): void {
  requireBytes(keys.aesKey, 'aesKey', 32);
  requireBytes(keys.iv, 'iv', 16);
}

/** AES-256-CBC with PKCS#7 padding (`primitives.ts`). */
export function encryptCbc(keys: CipherKeys, plaintext: Uint8Array): Uint8Array {
  requireBytes(plaintext, 'plaintext');
  checkKeys(keys);
  return aes256CbcEncrypt(keys.aesKey, keys.iv, plaintext);
}

/** AES-256-CBC decryption; a length that is not a whole number of blocks or bad PKCS#7 padding
 * throws `RatchetError('bad-padding')` (only reached after the MAC has been checked). */
export function decryptCbc(keys: CipherKeys, ciphertext: Uint8Array): Uint8Array {
  requireBytes(ciphertext, 'ciphertext');
  checkKeys(keys);
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new RatchetError('bad-padding', 'ciphertext is not a whole number of AES blocks', {
      context: { length: ciphertext.length },
    });
  }
  const plaintext = aes256CbcDecrypt(keys.aesKey, keys.iv, ciphertext);
  if (plaintext === undefined) throw new RatchetError('bad-padding', 'invalid PKCS#7 padding');
  return plaintext;
}

/** HMAC-SHA-256 (RFC 2104), full 32-byte output (`primitives.ts`), with argument checks. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  requireBytes(key, 'key');
  requireBytes(data, 'data');
  return hmac(key, data);
}

/**
 * The first `length` bytes of HMAC-SHA-256(`macKey`, `data`) into `out` at `offset`: a message's
 * truncated MAC written where it goes (in place after the bytes it covers, which `data` may
 * view, or into a reused buffer that the caller wipes), without a result array.
 */
export function truncatedMacInto(
  macKey: Uint8Array,
  data: Uint8Array,
  out: Uint8Array,
  offset: number,
  length: number,
): void {
  requireBytes(macKey, 'macKey');
  requireBytes(data, 'data');
  requireBytes(out, 'out');
  hmacSha256TruncatedInto(macKey, data, out, offset, length);
}

/**
 * Constant-time equality of two MACs: the loop always runs over every byte, with no early exit;
 * only the (public) lengths may short-circuit.
 */
export function macMatches(expected: Uint8Array, actual: Uint8Array): boolean {
  requireBytes(expected, 'expected');
  requireBytes(actual, 'actual');
  if (expected.length !== actual.length) return false;
  return macMatchesAt(expected, actual, 0, expected.length);
}

/**
 * {@link macMatches} of the first `length` bytes of `expected` against `actual` at `offset`,
 * without a view of either (a message's MAC checked where it lies in the received bytes).
 */
export function macMatchesAt(
  expected: Uint8Array,
  actual: Uint8Array,
  offset: number,
  length: number,
): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) {
    diff |= (expected[i] as number) ^ (actual[offset + i] as number);
  }
  return diff === 0;
}

/** Overwrites every buffer with zeros (keys and temporaries after use). */
export function zeroize(...buffers: ReadonlyArray<Uint8Array | undefined>): void {
  for (const buffer of buffers) buffer?.fill(0);
}

/** Zeroes all three keys of a `CipherKeys`. */
export function zeroizeKeys(keys: CipherKeys): void {
  zeroize(keys.aesKey, keys.macKey, keys.iv);
}
