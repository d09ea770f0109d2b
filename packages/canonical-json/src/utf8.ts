/**
 * Strict UTF-8 decoding for untrusted input (RFC 3629; Unicode 15, Table 3-7 "Well-Formed UTF-8
 * Byte Sequences"): overlong forms, surrogates (U+D800–U+DFFF, i.e. CESU-8), code points above
 * U+10FFFF and truncated sequences are all errors. A byte-order mark is kept as U+FEFF so the
 * JSON parser rejects it (RFC 8259 §8.1: senders MUST NOT add one).
 */
import { Failure } from './failure.ts';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes `bytes`, throwing an `invalid-utf8` failure at the first ill-formed byte. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    // The platform decoder says only "invalid"; find where, for the error report.
    const position = firstIllFormedByte(bytes);
    if (position < 0) throw cause;
    throw new Failure('invalid-utf8', 'input is not well-formed UTF-8', position);
  }
}

/** Offset of the first byte that starts an ill-formed sequence, or −1 if `bytes` is valid. */
export function firstIllFormedByte(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b0 = bytes[i] ?? 0;
    if (b0 < 0x80) {
      i += 1;
      continue;
    }
    // Table 3-7: the lead byte fixes the sequence length and the range of the second byte.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      length = 3;
      if (b0 === 0xe0) low = 0xa0; // no overlongs
      if (b0 === 0xed) high = 0x9f; // no surrogates
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      length = 4;
      if (b0 === 0xf0) low = 0x90; // no overlongs
      if (b0 === 0xf4) high = 0x8f; // nothing above U+10FFFF
    } else return i;
    if (i + length > n) return i;
    const b1 = bytes[i + 1] ?? 0;
    if (b1 < low || b1 > high) return i;
    for (let k = 2; k < length; k++) {
      const b = bytes[i + k] ?? 0;
      if (b < 0x80 || b > 0xbf) return i;
    }
    i += length;
  }
  return -1;
}
