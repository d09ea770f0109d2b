/**
 * Standard base64 (RFC 4648 §4) as Matrix and libolm use it: emitted without padding, accepted
 * with or without (spec appendices, "Unpadded Base64").
 */
import { RatchetError } from './errors.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Encodes bytes as unpadded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('expected a Uint8Array');
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
  if (typeof text !== 'string') throw new TypeError('expected a base64 string');
  let length = text.length;
  if (length % 4 === 0 && length > 0 && text.charCodeAt(length - 1) === 61 /* = */) {
    length -= text.charCodeAt(length - 2) === 61 ? 2 : 1;
  }
  if (length % 4 === 1) throw bad('impossible length', length);
  const out = new Uint8Array(Math.floor((length * 3) / 4));
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
