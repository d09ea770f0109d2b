/**
 * Unpadded Base64, standard and URL-safe (spec appendices, "Unpadded Base64" and "URL-safe
 * unpadded Base64": RFC 4648 §4 and §5 alphabets without `=` padding).
 *
 * Encoding never pads and is canonical: standard alphabet, or URL-safe for event and room IDs.
 *
 * Two decoders:
 *
 * **Strict** ({@link decodeBase64}, {@link decodeBase64Url}): one byte string has exactly one
 * accepted text form apart from padding, for callers that want canonical forms:
 * - only the characters of the chosen alphabet are accepted (the standard decoder rejects `-`/`_`,
 *   the URL-safe decoder rejects `+`/`/`), no whitespace;
 * - padding is accepted, because the spec says decoders "SHOULD accept input with or without
 *   padding characters", but only when it is complete (`Zg==`, `Zm8=`): partial or misplaced `=`
 *   is rejected;
 * - a length of 4n+1 characters cannot encode whole bytes and is rejected;
 * - the unused low bits of the last character must be zero (RFC 4648 §3.5 lets decoders reject
 *   non-canonical encodings; we do, so `Zh` is not a second spelling of `Zg`).
 *
 * **Lenient** ({@link decodeBase64Lenient}): what Synapse accepts. Synapse and signedjson decode
 * signatures, content hashes (`check_event_content_hash`) and verify keys with
 * `unpaddedbase64.decode_base64`, i.e. Python's `b64decode(text + padding, altchars=b"-_")`:
 * both alphabets (even mixed), any trailing `=`, non-zero trailing bits ignored. A verifier that
 * is stricter than Synapse rejects (or, for a content hash, redacts) events Synapse accepts, and
 * the servers' views of the room diverge, so everything that *verifies* a signature or a hash
 * decodes leniently. It still refuses what Python refuses — a length of 4n+1 data characters,
 * `=` anywhere but at the end — and, unlike Python's non-validating mode, which silently drops
 * them, any other character (whitespace included): `SigningError('bad-base64')`.
 * The bytes a malleable spelling decodes to are the same, so a signature stays bound to its
 * message; only the text differs (and the reference hash covers `hashes` as text, as Synapse's
 * does).
 *
 * {@link decodeSeedBase64} (seeds) also ignores non-zero trailing bits, because the spec's own
 * test-vector seed (`YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1`, appendices "Signing Key")
 * has them; otherwise it is strict. A seed is local configuration.
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
/** Both alphabets at once, as `b64decode(..., altchars=b"-_")` decodes. */
const EITHER_DECODE = (() => {
  const table = decodeTable(STANDARD);
  table['-'.charCodeAt(0)] = 62;
  table['_'.charCodeAt(0)] = 63;
  return table;
})();

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

/**
 * `strict`: complete padding only, zero trailing bits. `trailing-bits`: zero trailing bits not
 * required. `lenient`: that, and any run of trailing `=` (as unpaddedbase64 accepts).
 */
type Mode = 'strict' | 'trailing-bits' | 'lenient';

function decode(
  text: string,
  table: Int8Array,
  path: string | undefined,
  mode: Mode = 'strict',
): Uint8Array {
  let length = text.length;
  if (mode === 'lenient') {
    while (length > 0 && text.charCodeAt(length - 1) === 61) length--;
  } else if (length % 4 === 0 && length > 0 && text.charCodeAt(length - 1) === 61) {
    // Strip complete padding only: the padded length must be a multiple of 4, with at most two `=`.
    length -= text.charCodeAt(length - 2) === 61 ? 2 : 1;
  }
  const ignoreTrailingBits = mode !== 'strict';
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
    if ((acc & 15) !== 0 && !ignoreTrailingBits) fail('non-zero trailing bits', path);
    out[o] = acc >>> 4;
  } else if (rest === 3) {
    if ((acc & 3) !== 0 && !ignoreTrailingBits) fail('non-zero trailing bits', path);
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
  return decode(text, STANDARD_DECODE, undefined, 'trailing-bits');
}

/**
 * Decodes Base64 as Synapse does (`unpaddedbase64.decode_base64`): standard or URL-safe alphabet
 * (mixed too), padding optional (any trailing `=`), non-zero trailing bits ignored. Throws
 * `SigningError('bad-base64')` for a length of 4n+1 data characters, a misplaced `=`, or any
 * other character. For values that are verified (signatures, content hashes, public keys), not
 * for values that must be canonical; see the module comment.
 */
export function decodeBase64Lenient(text: string, path?: string): Uint8Array {
  checkString(text, 'text');
  return decode(text, EITHER_DECODE, path, 'lenient');
}
