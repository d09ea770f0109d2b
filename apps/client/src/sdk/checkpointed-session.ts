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

/** The message index of a base64 Megolm message (spec: version 3, then field 0x08 as a varint). */
export function megolmMessageIndex(message: string): number | undefined {
  // Only the first few bytes are needed: 1 version byte, 1 tag byte, up to 5 varint bytes.
  const head = message.slice(0, 12);
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(head.padEnd(Math.ceil(head.length / 4) * 4, '=')), (c) =>
      c.charCodeAt(0),
    );
  } catch {
    return undefined;
  }
  if (bytes[0] !== 3 || bytes[1] !== 0x08) return undefined;
  let value = 0;
  for (let i = 2, shift = 0; i < bytes.length && shift < 35; i++, shift += 7) {
    const byte = bytes[i] ?? 0;
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
