/**
 * Storage of room events: loading by ID (with a cache of committed events, event-cache.ts) and
 * the row shape. Events are immutable once stored except for what a write changes in place
 * (`redacted_by`, a `prev_content` copy, an outlier's DAG columns), which evicts the cache entry
 * with `evictOnCommit`.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { inListChunks, placeholders } from '../../storage/in-list.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { DEFAULT_EVENT_CACHE_BYTES, EventCache } from './event-cache.ts';
import type { StoredEvent } from './types.ts';

/** The columns every event query selects (with `e.` = events, `r.` = rooms). */
export const EVENT_COLUMNS = `e.event_id, e.room_id, r.room_version, e.pdu, e.type, e.state_key,
  e.sender, e.origin_server_ts, e.depth, e.stream_position, e.state_group, e.unsigned,
  e.redacted_by, e.sender_device, e.txn_id`;

/** `FROM` clause matching {@link EVENT_COLUMNS}. */
export const EVENT_FROM = 'events e JOIN rooms r ON r.room_id = e.room_id';

export interface EventRow {
  [column: string]: unknown;
  event_id: string;
  room_id: string;
  room_version: string;
  pdu: string;
  type: string;
  state_key: string | null;
  sender: string;
  origin_server_ts: number;
  depth: number;
  stream_position: number | null;
  state_group: number | null;
  unsigned: string | null;
  redacted_by: string | null;
  sender_device: string | null;
  txn_id: string | null;
}

/** Reads events; caches only what it read from committed storage. */
export class EventStore {
  readonly #cache: EventCache;

  /** `cacheBytes`: the event cache's budget (estimated heap bytes; see event-cache.ts). */
  constructor(cacheBytes = DEFAULT_EVENT_CACHE_BYTES) {
    this.#cache = new EventCache(cacheBytes);
  }

  /** How many events are cached and their estimated heap bytes. */
  get cacheStats(): { readonly entries: number; readonly bytes: number } {
    return this.#cache.stats;
  }

  /** Forgets a cached event (after its redaction). */
  evict(eventId: string): void {
    this.#cache.delete(eventId);
  }

  /**
   * Forgets the cached events whose stored rows the write `tx` changed (a redaction's
   * `redacted_by`, a redacted `prev_content` copy, an outlier's verdict or stream position), now
   * and again once `tx` commits: a read outside the write (SQLite's read connection, another
   * PostgreSQL client) between the two still sees the old row and may cache it, and the commit
   * makes that copy stale.
   */
  evictOnCommit(tx: SqlExecutor, eventIds: readonly string[]): void {
    const forget = () => {
      for (const id of eventIds) this.#cache.delete(id);
    };
    forget();
    tx.afterCommit(forget);
  }

  /**
   * Turns rows into events, resolving `redacted_by`. `cache` is false inside a write
   * transaction, whose rows may still roll back.
   */
  async fromRows(db: SqlExecutor, rows: readonly EventRow[], cache = true): Promise<StoredEvent[]> {
    const redactionIds = rows.flatMap((row) => (row.redacted_by === null ? [] : [row.redacted_by]));
    const redactions =
      redactionIds.length === 0 ? new Map() : await this.getMany(db, redactionIds, cache);
    return rows.map((row) => {
      const cached = this.#cache.get(row.event_id);
      if (
        cached !== undefined &&
        cached.redactedBecause?.eventId === (row.redacted_by ?? undefined)
      )
        return cached;
      const event: StoredEvent = {
        eventId: row.event_id,
        roomId: row.room_id,
        roomVersion: row.room_version,
        pdu: parseAnyJson(row.pdu) as Record<string, unknown>,
        type: row.type,
        stateKey: row.state_key ?? undefined,
        sender: row.sender,
        originServerTs: Number(row.origin_server_ts),
        depth: Number(row.depth),
        streamPosition: row.stream_position === null ? null : Number(row.stream_position),
        stateGroup: row.state_group === null ? null : Number(row.state_group),
        unsigned:
          row.unsigned === null
            ? undefined
            : (parseAnyJson(row.unsigned) as Record<string, unknown>),
        redactedBecause: row.redacted_by === null ? undefined : redactions.get(row.redacted_by),
        senderDevice: row.sender_device ?? undefined,
        txnId: row.txn_id ?? undefined,
      };
      if (cache) this.#cache.set(event, row.pdu.length + (row.unsigned?.length ?? 0));
      return event;
    });
  }

  /** Caches an event; only ever a committed one (call from `tx.afterCommit` inside a write). */
  remember(event: StoredEvent): void {
    this.#cache.set(event);
  }

  /** One event by ID, or `undefined`. */
  async get(db: SqlExecutor, eventId: string, cache = true): Promise<StoredEvent | undefined> {
    return (await this.getMany(db, [eventId], cache)).get(eventId);
  }

  /**
   * Events by ID (missing IDs are absent from the map). With `cache` false (inside a write
   * transaction) rows read are not remembered, as they may roll back, but cached events are still
   * served: only committed events are cached, and a stored event only changes by a redaction,
   * which evicts it once committed. The send path reads its auth events this way.
   */
  async getMany(
    db: SqlExecutor,
    eventIds: readonly string[],
    cache = true,
  ): Promise<Map<string, StoredEvent>> {
    const found = new Map<string, StoredEvent>();
    const missing: string[] = [];
    for (const id of new Set(eventIds)) {
      const hit = this.#cache.get(id);
      if (hit !== undefined) found.set(id, hit);
      else missing.push(id);
    }
    for (const chunk of inListChunks(missing)) {
      const rows = await db.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM} WHERE e.event_id IN (${placeholders(chunk.length)})`,
        chunk,
      );
      for (const event of await this.fromRows(db, rows, cache)) found.set(event.eventId, event);
    }
    return found;
  }
}

/**
 * The stored PDU JSON text of each event (missing IDs are absent), read without parsing it: a
 * caller that only forwards PDUs (the `send_join` answer) splices the text as it is. It is the
 * text `StoredEvent.pdu` is parsed from (a redaction sets `redacted_by`, never rewrites it).
 */
export async function loadPduTexts(
  db: SqlExecutor,
  eventIds: readonly string[],
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const ids = [...new Set(eventIds)];
  for (const chunk of inListChunks(ids)) {
    const rows = await db.query<{ event_id: string; pdu: string }>(
      `SELECT event_id, pdu FROM events WHERE event_id IN (${placeholders(chunk.length)})`,
      chunk,
    );
    for (const row of rows) found.set(row.event_id, row.pdu);
  }
  return found;
}
