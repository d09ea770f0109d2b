/**
 * Unpadded Base64, standard and URL-safe (spec appendices, "Unpadded Base64" and "URL-safe
 * unpadded Base64": RFC 4648 §4 and §5 alphabets without `=` padding).
 *
 * Encoding never pads. Decoding is strict, so that one byte string has exactly one accepted text
 * form apart from padding (no signature or hash malleability through the encoding):
 * - only the characters of the chosen alphabet are accepted (the standard decoder rejects `-`/`_`,
 *   the URL-safe decoder rejects `+`/`/`), no whitespace;
 * - padding is accepted, because the spec says decoders "SHOULD accept input with or without
 *   padding characters", but only when it is complete (`Zg==`, `Zm8=`): partial or misplaced `=`
 *   is rejected;
 * - a length of 4n+1 characters cannot encode whole bytes and is rejected;
 * - the unused low bits of the last character must be zero (RFC 4648 §3.5 lets decoders reject
 *   non-canonical encodings; we do, so `Zh` is not a second spelling of `Zg`).
 *
 * One exception: {@link decodeSeedBase64} ignores non-zero trailing bits, because the spec's own
 * test-vector seed (`YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1`, appendices "Signing Key")
 * has them. A seed is local configuration, so accepting it opens no malleability on the wire.
 */
import { checkBytes, checkString } from './bytes.ts';
import { SigningError } from './errors.ts';

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function decodeTable(alphabet: string): Int8Array {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}

const STANDARD_DECODE = decodeTable(STANDARD);
const URL_SAFE_DECODE = decodeTable(URL_SAFE);

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  const whole = bytes.length - (bytes.length % 3);
  let i = 0;
  for (; i < whole; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63) +
      alphabet.charAt(n & 63);
  }
  const rest = bytes.length - whole;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += alphabet.charAt(n >>> 18) + alphabet.charAt((n >>> 12) & 63);
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out +=
      alphabet.charAt(n >>> 18) +
      alphabet.charAt((n >>> 12) & 63) +
      alphabet.charAt((n >>> 6) & 63);
  }
  return out;
}

function fail(reason: string, path: string | undefined): never {
  throw new SigningError(
    'bad-base64',
    `invalid unpadded base64: ${reason}`,
    path === undefined ? {} : { path },
  );
}

function decode(
  text: string,
  table: Int8Array,
  path: string | undefined,
  lenient = false,
): Uint8Array {
  let length = text.length;
  // Strip complete padding only: the padded length must be a multiple of 4, with at most two `=`.
  if (length % 4 === 0 && length > 0 && text.charCodeAt(length - 1) === 61) {
    length -= text.charCodeAt(length - 2) === 61 ? 2 : 1;
  }
  const rest = length % 4;
  if (rest === 1) fail(`length ${text.length} cannot encode whole bytes`, path);
  const out = new Uint8Array(((length - rest) / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let acc = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    const value = code < 128 ? (table[code] as number) : -1;
    if (value < 0) fail(`unexpected character at index ${i}`, path);
    acc = (acc << 6) | value;
    if ((i & 3) === 3) {
      out[o++] = acc >>> 16;
      out[o++] = (acc >>> 8) & 255;
      out[o++] = acc & 255;
      acc = 0;
    }
  }
  if (rest === 2) {
    if ((acc & 15) !== 0 && !lenient) fail('non-zero trailing bits', path);
    out[o] = acc >>> 4;
  } else if (rest === 3) {
    if ((acc & 3) !== 0 && !lenient) fail('non-zero trailing bits', path);
    out[o++] = acc >>> 10;
    out[o] = (acc >>> 2) & 255;
  }
  return out;
}

/** Encodes bytes as unpadded standard Base64 (spec appendices, "Unpadded Base64"). */
export function encodeBase64(bytes: Uint8Array): string {
  checkBytes(bytes, 'bytes');
  return encode(bytes, STANDARD);
}

/** Encodes bytes as URL-safe unpadded Base64 (`-` and `_`), as used by event IDs since room v4. */
export function encodeBase64Url(bytes: Uint8Array): string {
  checkBytes(bytes, 'bytes');
  return encode(bytes, URL_SAFE);
}

/**
 * Decodes standard Base64, padded or not; throws `SigningError('bad-base64')` for anything else
 * (see the module comment for the exact rules). `path` names the value in the error.
 */
export function decodeBase64(text: string, path?: string): Uint8Array {
  checkString(text, 'text');
  return decode(text, STANDARD_DECODE, path);
}

/** Decodes URL-safe Base64 (`-`, `_`), padded or not, with the same strictness as {@link decodeBase64}. */
export function decodeBase64Url(text: string, path?: string): Uint8Array {
  checkString(text, 'text');
  return decode(text, URL_SAFE_DECODE, path);
}

/**
 * Decodes a standard-Base64 secret seed: the rules of {@link decodeBase64} except that non-zero
 * trailing bits are ignored (see the module comment). Internal: used by `signingKeyFromSeed`.
 */
export function decodeSeedBase64(text: string): Uint8Array {
  checkString(text, 'seed');
  return decode(text, STANDARD_DECODE, undefined, true);
}
