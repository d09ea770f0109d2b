/**
 * The in-memory cache of committed events, bounded by an estimate of the heap its entries hold
 * rather than by their number: Matrix events range from a few hundred bytes to 64 KiB (spec
 * "Size limits"), so a count bound that suits small messages would let large state events take
 * 50 times the memory. Least recently used entries leave first (lru-map.ts, weighed in bytes).
 */
import { LruMap } from '../../lru-map.ts';
import type { StoredEvent } from './types.ts';

/**
 * Default budget: what the former bound of 20,000 entries held of typical events (a message with
 * its hashes, signatures and references is ≈ 1.6 KiB of heap, parsed). An initial sync in 1,000
 * rooms reads ≈ 8,000 events and its speed depends on them staying cached beside the live rooms'
 * events (10,000 entries made it 3× slower; sync-load bench).
 */
export const DEFAULT_EVENT_CACHE_BYTES = 32 * 1024 * 1024;

// V8 heap sizes on 64-bit without pointer compression (Node's default build), rounded up: an
// object's header and each property slot, a string's header, a heap number, an array's backing
// store header. Estimates, not an accounting: they keep large events from being undercounted.
const OBJECT_BYTES = 32;
const SLOT_BYTES = 16;
const STRING_BYTES = 24;
const NUMBER_BYTES = 16;
// The StoredEvent record itself with its ID, room, type and sender strings. With it the estimate
// is within 10% of the heap measured for messages of 20 bytes to 30 KiB (−9% to −4%).
const ENTRY_BYTES = 464;
// A parsed PDU holds its JSON text's length in strings plus ≈ 550 bytes of objects, arrays and
// boxed numbers (measured: 550–566 bytes for messages of 20 bytes to 30 KiB).
const PARSED_OVERHEAD_BYTES = 560;

export class EventCache {
  readonly #entries: LruMap<string, StoredEvent> | undefined;

  constructor(maxBytes = DEFAULT_EVENT_CACHE_BYTES) {
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new RangeError('maxBytes must be a non-negative safe integer');
    }
    // A zero budget keeps nothing (the map's bound must be positive).
    this.#entries = maxBytes === 0 ? undefined : new LruMap(maxBytes);
  }

  /** Number of cached events and the estimated heap bytes they hold. */
  get stats(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.#entries?.size ?? 0, bytes: this.#entries?.weight ?? 0 };
  }

  get(eventId: string): StoredEvent | undefined {
    return this.#entries?.get(eventId);
  }

  /**
   * Caches `event`, evicting least recently used entries until it fits; one larger than the
   * budget is not kept. `jsonLength`: the length of the JSON text its PDU and unsigned data were
   * parsed from, when the caller has it (a row read from storage): the estimate then costs
   * nothing.
   */
  set(event: StoredEvent, jsonLength?: number): void {
    if (this.#entries === undefined) return;
    const bytes =
      jsonLength === undefined
        ? estimateEventBytes(event)
        : ENTRY_BYTES + PARSED_OVERHEAD_BYTES + jsonLength;
    this.#entries.set(event.eventId, event, bytes);
  }

  delete(eventId: string): void {
    this.#entries?.delete(eventId);
  }
}

/**
 * Estimated heap bytes of a cached event: its record, its parsed PDU and unsigned data (the
 * redaction it points to is cached, and counted, on its own). It walks the parsed values
 * (≈ 1 µs for a message): for events built here, which have no stored text yet.
 */
export function estimateEventBytes(event: StoredEvent): number {
  return ENTRY_BYTES + estimateJsonBytes(event.pdu) + estimateJsonBytes(event.unsigned);
}

/** Estimated heap bytes of a parsed JSON value (property names are shared and not counted). */
function estimateJsonBytes(value: unknown): number {
  if (typeof value === 'string') return STRING_BYTES + value.length;
  // Small integers are immediate values; others (timestamps) are boxed.
  if (typeof value === 'number')
    return Math.abs(value) < 2 ** 30 && Number.isInteger(value) ? 0 : NUMBER_BYTES;
  if (typeof value !== 'object' || value === null) return 0;
  let bytes = OBJECT_BYTES;
  if (Array.isArray(value)) {
    for (const item of value) bytes += SLOT_BYTES / 2 + estimateJsonBytes(item);
    return bytes;
  }
  for (const key in value) {
    bytes += SLOT_BYTES + estimateJsonBytes((value as Record<string, unknown>)[key]);
  }
  return bytes;
}
