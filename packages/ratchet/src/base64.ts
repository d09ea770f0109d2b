/**
 * Standard base64 (RFC 4648 §4) as Matrix and libolm use it: emitted without padding, accepted
 * with or without (spec appendices, "Unpadded Base64").
 */
import { RatchetError } from './errors.ts';

/**
 * The slice of Node's `Buffer` used here, found at runtime (`globalThis.Buffer`, never an import,
 * so browsers use the JavaScript code below). Its base64 codec is native: on the ~300-byte
 * bodies of Olm and Megolm messages it encodes ~5× and decodes ~2.5× faster than the loops
 * below (bench/primitives.ts), ~1 µs per message each way. Its decoder is lenient: it reads
 * base64url's `-` and `_`, reads a character above U+00FF as its low byte (`Ł`, U+0141, as `A`),
 * and skips other characters outside the alphabet. So only ASCII input without `-` and `_`
 * goes to it, and a decoded length that falls short sends the input to the JavaScript decoder,
 * which refuses it.
 */
interface NodeBufferView {
  toString(encoding: 'base64'): string;
  write(text: string, encoding: 'base64'): number;
}
interface NodeBufferClass {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): NodeBufferView;
  byteLength(text: string, encoding: 'utf8'): number;
}

function findBuffer(): NodeBufferClass | undefined {
  const candidate = (globalThis as { Buffer?: Partial<NodeBufferClass> }).Buffer;
  return typeof candidate?.from === 'function' && typeof candidate.byteLength === 'function'
    ? (candidate as NodeBufferClass)
    : undefined;
}

let nativeBuffer = findBuffer();

/**
 * Uses Node's native codec when `native` is true and `Buffer` exists, the JavaScript loops
 * otherwise (tests run both); returns whether the native codec is in use.
 */
export function selectBase64Implementation(native: boolean): boolean {
  nativeBuffer = native ? findBuffer() : undefined;
  return nativeBuffer !== undefined;
}

/**
 * Shorter input (keys: 43 characters) decodes faster in the loop below than through a Buffer
 * view over the output (measured 2× slower at 43 characters, 2× faster at 347).
 */
const NATIVE_DECODE_MIN = 128;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes as unpadded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
  if (nativeBuffer !== undefined) {
    const padded = nativeBuffer
      .from(bytes.buffer, bytes.byteOffset, bytes.length)
      .toString('base64');
    const rest = bytes.length % 3;
    return rest === 0 ? padded : padded.slice(0, padded.length - 3 + rest);
  }
  let out = '';
  const full = bytes.length - (bytes.length % 3);
  for (let i = 0; i < full; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      ALPHABET.charAt(n >>> 18) +
      ALPHABET.charAt((n >>> 12) & 63) +
      ALPHABET.charAt((n >>> 6) & 63) +
      ALPHABET.charAt(n & 63);
  }
  const rest = bytes.length - full;
  if (rest === 1) {
    const n = (bytes[full] as number) << 16;
    out += ALPHABET.charAt(n >>> 18) + ALPHABET.charAt((n >>> 12) & 63);
  } else if (rest === 2) {
    const n = ((bytes[full] as number) << 16) | ((bytes[full + 1] as number) << 8);
    out +=
      ALPHABET.charAt(n >>> 18) +
      ALPHABET.charAt((n >>> 12) & 63) +
      ALPHABET.charAt((n >>> 6) & 63);
  }
  return out;
}

function bad(reason: string, position: number): RatchetError {
  return new RatchetError('bad-base64', `malformed base64: ${reason}`, { context: { position } });
}

/** Decodes padded or unpadded standard base64; throws `RatchetError('bad-base64')` otherwise. */
export function decodeBase64(text: string): Uint8Array {
  return decode(text, undefined);
}

/**
 * `decodeBase64`, but when `into` is large enough the bytes are written at its start and a view
 * of it is returned (no allocation, for a caller that reads them at once); otherwise an array of
 * their own.
 */
export function decodeBase64Into(text: string, into: Uint8Array): Uint8Array {
  return decode(text, into);
}

function decode(text: string, into: Uint8Array | undefined): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('expected a base64 string');
  let length = text.length;
  if (length % 4 === 0 && length > 0 && text.charCodeAt(length - 1) === 61 /* = */) {
    length -= text.charCodeAt(length - 2) === 61 ? 2 : 1;
  }
  if (length % 4 === 1) throw bad('impossible length', length);
  const decodedLength = Math.floor((length * 3) / 4);
  const out =
    into !== undefined && into.length >= decodedLength
      ? into.subarray(0, decodedLength)
      : new Uint8Array(decodedLength);
  const unpadded = length === text.length ? text : text.slice(0, length);
  if (
    nativeBuffer !== undefined &&
    length >= NATIVE_DECODE_MIN &&
    // ASCII only: its UTF-8 length equals its length (a native count, ~0.2 µs at 347 characters).
    nativeBuffer.byteLength(unpadded, 'utf8') === length &&
    !unpadded.includes('-') &&
    !unpadded.includes('_')
  ) {
    // Decoded straight into `out`, a plain Uint8Array (not Node's shared pool). Node
    // skips any other ASCII character outside the alphabet, and each skipped one shortens the output
    // below `out.length` (the length is never 4k + 1, so a shortfall of one character already
    // loses a byte): a short write means malformed input, which the loop below then reports.
    const written = nativeBuffer
      .from(out.buffer, out.byteOffset, out.length)
      .write(unpadded, 'base64');
    if (written === out.length) return out;
  }
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (DECODE[c] as number) : -1;
    if (v < 0) throw bad('unexpected character', i);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}
