/**
 * The event cache is bounded by the estimated heap its events hold, not by their number: large
 * events (up to the spec's 64 KiB, "Size limits") must not take 50 times the memory that the
 * same count of messages does, and the estimate must follow the real heap cost.
 */
import { describe, expect, it } from 'vitest';

import { EventCache, estimateEventBytes } from '../src/services/rooms/event-cache.ts';
import type { StoredEvent } from '../src/services/rooms/types.ts';

const HASH = 'A'.repeat(43);

/** A stored m.room.message shaped like a real one (hashes, signature, references). */
function message(i: number, body: string): StoredEvent {
  const eventId = `$${HASH}${i}`;
  const pdu = JSON.parse(
    JSON.stringify({
      auth_events: [`$${HASH}a`, `$${HASH}b`, `$${HASH}c`],
      content: { body: `${body}${i}`, msgtype: 'm.text' },
      depth: 10 + i,
      hashes: { sha256: HASH },
      origin_server_ts: 1_764_400_000_000 + i,
      prev_events: [`$${HASH}p${i}`],
      room_id: '!abcdefghijklmnopqr:cache.test',
      sender: `@u${i}:cache.test`,
      type: 'm.room.message',
      signatures: { 'cache.test': { 'ed25519:a_AbCd': 'S'.repeat(86) } },
    }),
  ) as Record<string, unknown>;
  return {
    eventId,
    roomId: '!abcdefghijklmnopqr:cache.test',
    roomVersion: '10',
    pdu,
    type: 'm.room.message',
    stateKey: undefined,
    sender: `@u${i}:cache.test`,
    originServerTs: 1_764_400_000_000 + i,
    depth: 10 + i,
    streamPosition: 100 + i,
    stateGroup: null,
    unsigned: undefined,
    redactedBecause: undefined,
    senderDevice: 'DEVICE',
    txnId: `t${i}`,
  };
}

describe('EventCache', () => {
  it('keeps large events within its byte budget, newest first', () => {
    const cache = new EventCache(1024 * 1024);
    const big = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 100; i++) cache.set(message(i, big));
    const { entries, bytes } = cache.stats;
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
    // ≈ 61 KiB each: 16 fit in 1 MiB (a count bound would have kept all 100).
    expect(entries).toBe(16);
    expect(cache.get(`$${HASH}99`)?.eventId).toBe(`$${HASH}99`);
    expect(cache.get(`$${HASH}84`)?.eventId).toBe(`$${HASH}84`);
    expect(cache.get(`$${HASH}83`)).toBeUndefined();
    expect(cache.get(`$${HASH}0`)).toBeUndefined();
  });

  it('holds many more small events in the same budget', () => {
    const cache = new EventCache(1024 * 1024);
    for (let i = 0; i < 2000; i++) cache.set(message(i, 'hello'));
    expect(cache.stats.entries).toBeGreaterThan(500);
    expect(cache.stats.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(cache.get(`$${HASH}1999`)).toBeDefined();
  });

  it('counts an event once when it is cached again, and frees its bytes on delete', () => {
    const cache = new EventCache(1024 * 1024);
    const event = message(1, 'hello');
    cache.set(event);
    cache.set(event);
    expect(cache.stats).toEqual({ entries: 1, bytes: estimateEventBytes(event) });
    cache.delete(event.eventId);
    expect(cache.stats).toEqual({ entries: 0, bytes: 0 });
    expect(cache.get(event.eventId)).toBeUndefined();
  });

  it('does not keep an event larger than the whole budget, nor evict others for it', () => {
    const cache = new EventCache(16 * 1024);
    cache.set(message(1, 'small'));
    cache.set(message(2, 'x'.repeat(20 * 1024)));
    expect(cache.get(`$${HASH}1`)).toBeDefined();
    expect(cache.get(`$${HASH}2`)).toBeUndefined();
  });

  it('counts an event read from storage by its JSON text, close to the walked estimate', () => {
    for (const body of ['hi', 'x'.repeat(2000), 'y'.repeat(30_000)]) {
      const event = message(7, body);
      const cache = new EventCache(1024 * 1024);
      cache.set(event, JSON.stringify(event.pdu).length);
      const fromText = cache.stats.bytes;
      const walked = estimateEventBytes(event);
      expect(Math.abs(fromText - walked) / walked).toBeLessThan(0.1);
    }
  });

  it('rejects a budget that is not a non-negative integer', () => {
    expect(() => new EventCache(-1)).toThrow(RangeError);
    expect(() => new EventCache(1.5)).toThrow(RangeError);
  });

  it('estimates grow with the text an event carries', () => {
    const small = estimateEventBytes(message(1, 'hi'));
    const large = estimateEventBytes(message(1, 'x'.repeat(30_000)));
    // Typical message: ≈ 1.5 KiB of heap parsed (measured 1.6 KiB); 30,000 more characters
    // of one-byte text are 30,000 more bytes.
    expect(small).toBeGreaterThan(1200);
    expect(small).toBeLessThan(2000);
    expect(large - small).toBeGreaterThanOrEqual(30_000 - 2);
    expect(large - small).toBeLessThan(30_100);
  });
});
