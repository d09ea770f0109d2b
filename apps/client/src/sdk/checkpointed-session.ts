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

/** The first bytes of a message: version, tag, and up to 7 varint bytes (12 base64 digits). */
const HEAD = new Uint8Array(9);

/**
 * Decodes the first 12 base64 digits of `text` into {@link HEAD}; returns how many bytes were
 * decoded (fewer when the text is shorter or a digit is invalid).
 */
function decodeHead(text: string): number {
  let bytes = 0;
  for (let i = 0; i + 4 <= 12; i += 4) {
    const a = DIGITS[text.charCodeAt(i)] ?? -1;
    const b = DIGITS[text.charCodeAt(i + 1)] ?? -1;
    const c = DIGITS[text.charCodeAt(i + 2)] ?? -1;
    const d = DIGITS[text.charCodeAt(i + 3)] ?? -1;
    if ((a | b | c | d) < 0) return bytes;
    const group = (a << 18) | (b << 12) | (c << 6) | d;
    HEAD[bytes++] = group >> 16;
    HEAD[bytes++] = (group >> 8) & 0xff;
    HEAD[bytes++] = group & 0xff;
  }
  return bytes;
}

/**
 * The message index of a base64 Megolm message (spec: version 3, then field 0x08 as a varint).
 * Decodes only the first few bytes, without copying the text: this runs once per message of a
 * history.
 */
export function megolmMessageIndex(message: string): number | undefined {
  const length = decodeHead(message);
  if (length < 3 || HEAD[0] !== 3 || HEAD[1] !== 0x08) return undefined;
  let value = 0;
  // Up to 5 varint bytes (a 32-bit index).
  for (let i = 2, shift = 0; i < Math.min(length, 7); i++, shift += 7) {
    const byte = HEAD[i] as number;
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
