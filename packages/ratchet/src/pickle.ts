/**
 * The encrypted, authenticated pickle envelope every stateful type persists through.
 *
 * Each type (Olm account, Olm session, Megolm outbound/inbound session …) has its own `kind`, and
 * the kind is authenticated, so one type's pickle can never be loaded as another. Layout of the
 * base64-encoded bytes (all integers big-endian):
 *
 *   envelope version (1 byte, = 1) | kind length (1) | kind (UTF-8) | payload version (4)
 *   | salt (16, random) | AES-256-CBC(JSON payload) | HMAC-SHA-256 over all preceding bytes (32)
 *
 * Keys: HKDF-SHA-256(pickleKey, salt, info "Pickle") → AES key, MAC key, IV (as in `cipher.ts`).
 * The random salt makes every pickle's keys and IV fresh, so equal states never encrypt alike.
 */
import { decodeBase64, encodeBase64 } from './base64.ts';
import {
  type CipherKeys,
  decryptCbc,
  deriveCipherKeys,
  encryptCbc,
  hkdfSha256,
  hmacSha256,
  macMatches,
  zeroize,
  zeroizeKeys,
} from './cipher.ts';
import { RatchetError } from './errors.ts';
import { type RandomSource, randomBytes, systemRandom } from './random.ts';

const ENVELOPE_VERSION = 1;
const SALT_LENGTH = 16;
const MAC_LENGTH = 32;
const INFO = new TextEncoder().encode('Pickle');
const LIBOLM_MAC_LENGTH = 8;

/** An opened pickle: the payload version the writer recorded and its JSON payload. */
export interface OpenedPickle {
  readonly version: number;
  readonly payload: unknown;
}

function checkKey(pickleKey: unknown): asserts pickleKey is Uint8Array {
  if (!(pickleKey instanceof Uint8Array)) throw new TypeError('pickle key must be a Uint8Array');
  if (pickleKey.length !== 32) {
    throw new RangeError(`pickle key must be 32 bytes, got ${pickleKey.length}`);
  }
}

function checkKind(kind: unknown): Uint8Array {
  if (typeof kind !== 'string' || kind.length === 0) {
    throw new TypeError('pickle kind must be a non-empty string');
  }
  const bytes = new TextEncoder().encode(kind);
  if (bytes.length > 255) throw new RangeError('pickle kind must be at most 255 bytes');
  return bytes;
}

function pickleKeys(pickleKey: Uint8Array, salt: Uint8Array): CipherKeys {
  const okm = hkdfSha256(pickleKey, salt, INFO, 80);
  const keys = { aesKey: okm.slice(0, 32), macKey: okm.slice(32, 64), iv: okm.slice(64, 80) };
  okm.fill(0);
  return keys;
}

function badPickle(
  message: string,
  context: Record<string, string | number> = {},
  cause?: unknown,
) {
  return new RatchetError(
    'bad-pickle',
    message,
    cause === undefined ? { context } : { context, cause },
  );
}

/**
 * Serialises `payload` (plain JSON; byte strings already base64) into an encrypted pickle.
 * `random` supplies the 16-byte salt (the platform CSPRNG unless a test injects one).
 */
export function sealPickle(
  kind: string,
  version: number,
  payload: unknown,
  pickleKey: Uint8Array,
  random: RandomSource = systemRandom,
): string {
  const kindBytes = checkKind(kind);
  checkKey(pickleKey);
  if (!Number.isInteger(version) || version < 0 || version > 0xffffffff) {
    throw new RangeError('pickle version must be an unsigned 32-bit integer');
  }
  const json = JSON.stringify(payload);
  if (json === undefined) throw new TypeError('pickle payload must be JSON-serialisable');
  const salt = randomBytes(random, SALT_LENGTH);
  const keys = pickleKeys(pickleKey, salt);
  const plaintext = new TextEncoder().encode(json);
  const ciphertext = encryptCbc(keys, plaintext);
  zeroize(plaintext);

  const headerLength = 1 + 1 + kindBytes.length + 4 + SALT_LENGTH;
  const out = new Uint8Array(headerLength + ciphertext.length + MAC_LENGTH);
  const view = new DataView(out.buffer);
  out[0] = ENVELOPE_VERSION;
  out[1] = kindBytes.length;
  out.set(kindBytes, 2);
  view.setUint32(2 + kindBytes.length, version);
  out.set(salt, 6 + kindBytes.length);
  out.set(ciphertext, headerLength);
  const body = out.subarray(0, headerLength + ciphertext.length);
  out.set(hmacSha256(keys.macKey, body), body.length);
  zeroizeKeys(keys);
  return encodeBase64(out);
}

/**
 * Authenticates and decrypts a pickle written by `sealPickle` for the same `kind`. Throws
 * `RatchetError('bad-pickle')` on a wrong key, wrong kind or corruption, and
 * `RatchetError('unsupported-version')` on an unknown envelope version.
 */
export function openPickle(kind: string, text: string, pickleKey: Uint8Array): OpenedPickle {
  const kindBytes = checkKind(kind);
  checkKey(pickleKey);
  if (typeof text !== 'string') throw new TypeError('pickle must be a string');
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(text);
  } catch (cause) {
    throw badPickle('pickle is not valid base64', {}, cause);
  }
  if (bytes.length < 2) throw badPickle('pickle is truncated', { length: bytes.length });
  if (bytes[0] !== ENVELOPE_VERSION) {
    throw new RatchetError('unsupported-version', 'unknown pickle envelope version', {
      context: { expected: ENVELOPE_VERSION, got: bytes[0] as number },
    });
  }
  const storedKindLength = bytes[1] as number;
  const headerLength = 2 + storedKindLength + 4 + SALT_LENGTH;
  if (bytes.length < headerLength + 16 + MAC_LENGTH) {
    throw badPickle('pickle is truncated', { length: bytes.length });
  }
  const storedKind = new TextDecoder('utf-8', { fatal: false }).decode(
    bytes.subarray(2, 2 + storedKindLength),
  );
  if (storedKind !== kind || storedKindLength !== kindBytes.length) {
    throw badPickle('pickle is of another kind', { expectedKind: kind, gotKind: storedKind });
  }
  const version = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2 + storedKindLength);
  const salt = bytes.subarray(2 + storedKindLength + 4, headerLength);
  const body = bytes.subarray(0, bytes.length - MAC_LENGTH);
  const keys = pickleKeys(pickleKey, salt);
  try {
    if (!macMatches(hmacSha256(keys.macKey, body), bytes.subarray(body.length))) {
      throw badPickle('pickle authentication failed (wrong key or corrupted)', { reason: 'mac' });
    }
    const plaintext = decryptCbc(keys, bytes.subarray(headerLength, body.length));
    try {
      return {
        version,
        payload: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext)),
      };
    } catch (cause) {
      throw badPickle('pickle payload is not JSON', { reason: 'json' }, cause);
    } finally {
      zeroize(plaintext);
    }
  } catch (error) {
    if (RatchetError.isInstance(error) && error.code === 'bad-pickle') throw error;
    throw badPickle('pickle could not be decrypted', { reason: 'cipher' }, error);
  } finally {
    zeroizeKeys(keys);
  }
}

/** The key bytes of a libolm pickle key: bytes as given, a string as UTF-8. */
function libolmKeyBytes(pickleKey: Uint8Array | string): Uint8Array {
  const key = typeof pickleKey === 'string' ? new TextEncoder().encode(pickleKey) : pickleKey;
  if (!(key instanceof Uint8Array)) {
    throw new TypeError('pickle key must be a string or a Uint8Array');
  }
  return key;
}

/**
 * Encrypts `plaintext` (a libolm pickle body from `LibolmWriter`) in libolm's envelope, the
 * inverse of `openLibolmPickle`: base64(AES-256-CBC(plaintext) ‖ first 8 bytes of
 * HMAC-SHA-256(ciphertext)) under HKDF(key, "Pickle"), so libolm's `olm_unpickle_*` reads it.
 * The envelope has no salt or random IV, as in libolm: the same key and state give the same
 * text. The caller zeroes `plaintext`.
 */
export function sealLibolmPickle(plaintext: Uint8Array, pickleKey: Uint8Array | string): string {
  const keys = deriveCipherKeys(libolmKeyBytes(pickleKey), 'Pickle');
  try {
    const ciphertext = encryptCbc(keys, plaintext);
    const out = new Uint8Array(ciphertext.length + LIBOLM_MAC_LENGTH);
    out.set(ciphertext);
    const mac = hmacSha256(keys.macKey, ciphertext);
    out.set(mac.subarray(0, LIBOLM_MAC_LENGTH), ciphertext.length);
    zeroize(mac);
    return encodeBase64(out);
  } finally {
    zeroizeKeys(keys);
  }
}

/**
 * Decrypts a pickle written by libolm (`olm_pickle_*`) and returns its raw plaintext, which the
 * caller parses. libolm's envelope (`_olm_enc_output`): HKDF-SHA-256 of the caller's key bytes
 * with a zero salt and info "Pickle" gives AES key, MAC key and IV (as `deriveCipherKeys`);
 * the output is base64(AES-256-CBC(plaintext) ‖ first 8 bytes of HMAC-SHA-256(ciphertext)).
 * The key is bytes, or a string taken as UTF-8 (as python-olm and libolm's JS bindings do).
 * Throws `RatchetError('bad-pickle')` on a wrong key or corruption. The caller zeroes the result.
 * The one opener of libolm pickles, for Olm accounts and sessions and Megolm sessions alike.
 */
export function openLibolmPickle(text: string, pickleKey: Uint8Array | string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('pickle must be a string');
  const key = libolmKeyBytes(pickleKey);
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(text);
  } catch (cause) {
    throw badPickle('pickle is not valid base64', {}, cause);
  }
  if (bytes.length < 16 + LIBOLM_MAC_LENGTH) {
    throw badPickle('pickle is truncated', { length: bytes.length });
  }
  const ciphertext = bytes.subarray(0, bytes.length - LIBOLM_MAC_LENGTH);
  const keys = deriveCipherKeys(key, 'Pickle');
  try {
    const mac = hmacSha256(keys.macKey, ciphertext);
    const ok = macMatches(mac.subarray(0, LIBOLM_MAC_LENGTH), bytes.subarray(ciphertext.length));
    zeroize(mac);
    if (!ok)
      throw badPickle('pickle authentication failed (wrong key or corrupted)', { reason: 'mac' });
    return decryptCbc(keys, ciphertext);
  } catch (error) {
    if (RatchetError.isInstance(error) && error.code === 'bad-pickle') throw error;
    throw badPickle('pickle could not be decrypted', { reason: 'cipher' }, error);
  } finally {
    zeroizeKeys(keys);
  }
}
