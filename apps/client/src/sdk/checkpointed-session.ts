/**
 * Fast decryption of long histories. A Megolm inbound session decrypts message i by advancing its
 * ratchet from its first known index to i, so reading a 10,000-message history from one key
 * costs thousands of hash steps per message. This wrapper keeps copies of the ratchet at every
 * {@link STRIDE}-th index it has passed (made with `exportAt`, which the key already allows) and
 * decrypts each message from the nearest copy at or below its index. It reveals nothing the held
 * key does not: every copy is at or after the key's first known index, and the copies live only
 * in memory, are dropped with the key, and are never stored.
 */
import { type InboundGroupSession, ratchetMegolm } from '@weft/epoch';

/** Distance between kept ratchet copies. */
const STRIDE = 32;
/** At most this many copies per session (about 64 KiB). */
const MAX_CHECKPOINTS = 512;

// Base64 digit values by character code (standard and URL-safe alphabets); -1 for others.
const DIGITS = new Int8Array(128).fill(-1);
for (const [i, c] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries())
  DIGITS[c.charCodeAt(0)] = i;
DIGITS['-'.charCodeAt(0)] = 62;
DIGITS['_'.charCodeAt(0)] = 63;

/** Byte `n` of base64 text, decoded in place (`undefined` past the end or on a non-digit). */
function base64Byte(text: string, n: number): number | undefined {
  // Byte n covers bits 8n..8n+7: digits ⌊8n/6⌋ and the next one.
  const bit = n * 8;
  const first = Math.floor(bit / 6);
  const hi = DIGITS[text.charCodeAt(first)] ?? -1;
  const lo = DIGITS[text.charCodeAt(first + 1)] ?? -1;
  if (hi < 0 || lo < 0) return undefined;
  const shift = bit % 6; // 0, 2 or 4 bits of `hi` already belong to the previous byte
  return (((hi << 6) | lo) >> (4 - shift)) & 0xff;
}

/**
 * The message index of a base64 Megolm message (spec: version 3, then field 0x08 as a varint).
 * Reads the few leading bytes straight from the text: this runs once per message of a history,
 * so it avoids decoding (or copying) the rest.
 */
export function megolmMessageIndex(message: string): number | undefined {
  if (base64Byte(message, 0) !== 3 || base64Byte(message, 1) !== 0x08) return undefined;
  let value = 0;
  // Up to 5 varint bytes (a 32-bit index).
  for (let i = 2, shift = 0; i < 7; i++, shift += 7) {
    const byte = base64Byte(message, i);
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return value;
  }
  return undefined;
}

/** Wraps `base` so decryption starts from the nearest kept ratchet copy. */
export function checkpointed(base: InboundGroupSession & { free?(): void }): InboundGroupSession & {
  free(): void;
} {
  const copies = new Map<number, InboundGroupSession & { free?(): void }>();
  const nearest = (index: number) => {
    const bucket = Math.floor(index / STRIDE) * STRIDE;
    if (bucket <= base.firstKnownIndex()) return base;
    const found = copies.get(bucket);
    if (found !== undefined) return found;
    // Start the copy from the closest lower one (or the key itself).
    let from: InboundGroupSession = base;
    for (let b = bucket - STRIDE; b > base.firstKnownIndex(); b -= STRIDE) {
      const lower = copies.get(b);
      if (lower !== undefined) {
        from = lower;
        break;
      }
    }
    if (copies.size >= MAX_CHECKPOINTS) return from;
    const copy = ratchetMegolm.inboundFromExport(from.exportAt(bucket)) as InboundGroupSession & {
      free?(): void;
    };
    copies.set(bucket, copy);
    return copy;
  };
  return {
    sessionId: () => base.sessionId(),
    firstKnownIndex: () => base.firstKnownIndex(),
    exportAt: (index) => base.exportAt(index),
    decrypt(message) {
      const index = megolmMessageIndex(message);
      return (index === undefined ? base : nearest(index)).decrypt(message);
    },
    free() {
      for (const copy of copies.values()) copy.free?.();
      copies.clear();
      base.free?.();
    },
  };
}
