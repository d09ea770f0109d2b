/**
 * Timelines and pagination tokens. Local rooms are linear, so stream order is also topological
 * order and a single stream position is a complete room pagination token: `t<N>` sits between
 * the events at positions N and N+1. Paginating backwards from `t<N>` returns events at
 * positions ≤ N; forwards, events > N. A `/sync` token whose first number is the stream
 * position is accepted too, so `prev_batch`/`next_batch` from sync work as `from`.
 */
import { placeholders } from '../../storage/in-list.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { EVENT_COLUMNS, EVENT_FROM, type EventRow, type EventStore } from './event-store.ts';
import type { StoredEvent, TimelineSlice } from './types.ts';

/** The pagination token for stream position `position`. */
export function roomToken(position: number): string {
  return `t${position}`;
}

/** The stream position of a room or sync token, or `undefined` when it is not one. */
export function parseRoomToken(token: string): number | undefined {
  const match = /^[a-z]?(\d{1,15})(?:[_~.-]|$)/.exec(token);
  if (match?.[1] === undefined) return undefined;
  return Number(match[1]);
}

/** A room event filter (spec client-server-api "Filtering", RoomEventFilter). */
export interface EventFilter {
  readonly types?: readonly string[];
  readonly notTypes?: readonly string[];
  readonly senders?: readonly string[];
  readonly notSenders?: readonly string[];
  readonly containsUrl?: boolean;
}

/** Spec "Filtering": a type pattern may end in `*` as a wildcard. */
function typeMatches(type: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern,
  );
}

/** True when `event` passes `filter`. */
export function eventMatches(event: StoredEvent, filter: EventFilter | undefined): boolean {
  if (filter === undefined) return true;
  if (filter.notTypes !== undefined && typeMatches(event.type, filter.notTypes)) return false;
  if (filter.types !== undefined && !typeMatches(event.type, filter.types)) return false;
  if (filter.notSenders?.includes(event.sender)) return false;
  if (filter.senders !== undefined && !filter.senders.includes(event.sender)) return false;
  if (filter.containsUrl !== undefined) {
    const hasUrl = typeof (event.pdu['content'] as Record<string, unknown>)?.['url'] === 'string';
    if (hasUrl !== filter.containsUrl) return false;
  }
  return true;
}

/**
 * The last `limit` events of `roomId` with positions in (`fromPosition`, `toPosition`], oldest
 * first; `limited` says whether more events were in that range.
 *
 * Every woken `/sync` reads its rooms' new events this way, and they are nearly always in the
 * event cache (a committed event is cached at commit): so the range query reads only IDs and
 * redaction marks, and full rows are read only for events not cached as they are stored.
 */
export async function timelineSlice(
  db: SqlExecutor,
  events: EventStore,
  roomId: string,
  options: { fromPosition?: number; toPosition: number; limit: number },
): Promise<TimelineSlice> {
  const limit = Math.max(0, Math.floor(options.limit));
  const ids = await db.query<{ event_id: string; redacted_by: string | null }>(
    `SELECT event_id, redacted_by FROM events
      WHERE room_id = $1 AND stream_position > $2 AND stream_position <= $3
      ORDER BY stream_position DESC LIMIT $4`,
    [roomId, options.fromPosition ?? 0, options.toPosition, limit + 1],
  );
  const limited = ids.length > limit;
  const wanted = ids.slice(0, limit);
  const kept = await eventsAsStored(db, events, wanted);
  kept.reverse();
  const first = kept[0]?.streamPosition;
  const prevBatch = roomToken(
    first !== undefined && first !== null
      ? first - 1
      : (options.fromPosition ?? options.toPosition),
  );
  return { events: kept, limited, prevBatch };
}

/**
 * The events of `rows`, in their order, from the event store (cached, or read in full); one whose
 * redaction differs from the row's (a cached copy from before its redaction) is read again.
 */
async function eventsAsStored(
  db: SqlExecutor,
  events: EventStore,
  rows: readonly { event_id: string; redacted_by: string | null }[],
): Promise<StoredEvent[]> {
  if (rows.length === 0) return [];
  const found = await events.getMany(
    db,
    rows.map((row) => row.event_id),
  );
  const stale = rows.filter(
    (row) => found.get(row.event_id)?.redactedBecause?.eventId !== (row.redacted_by ?? undefined),
  );
  if (stale.length > 0) {
    const full = await db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM} WHERE e.event_id IN (${placeholders(stale.length)})`,
      stale.map((row) => row.event_id),
    );
    for (const event of await events.fromRows(db, full)) found.set(event.eventId, event);
  }
  return rows.flatMap((row) => {
    const event = found.get(row.event_id);
    return event === undefined ? [] : [event];
  });
}

/** One page of `/messages`: events in pagination order and the token to continue from. */
export interface MessagesPage {
  readonly chunk: readonly StoredEvent[];
  readonly start: string;
  /** Absent when there are no more events in that direction. */
  readonly end: string | undefined;
}

/**
 * Spec client-server-api "GET /rooms/{roomId}/messages": up to `limit` events matching
 * `filter`, walking backwards (`b`, positions ≤ from, newest first) or forwards (`f`, positions
 * > from, oldest first), never past `to` nor past `bound` (the viewer's visibility limit).
 */
export async function paginate(
  db: SqlExecutor,
  events: EventStore,
  roomId: string,
  options: {
    from: number;
    to?: number;
    dir: 'b' | 'f';
    limit: number;
    filter?: EventFilter;
    /** The last position the viewer may see. */
    bound: number;
    /** Positions at or before this are hidden from the viewer (history visibility). */
    floor?: number;
  },
): Promise<MessagesPage> {
  const chunk: StoredEvent[] = [];
  const backwards = options.dir === 'b';
  const floor = options.floor ?? 0;
  let cursor = backwards ? Math.min(options.from, options.bound) : Math.max(options.from, floor);
  const upper = Math.min(options.bound, options.to ?? Number.MAX_SAFE_INTEGER);
  const lower = backwards ? Math.max(options.to ?? 0, floor) : 0;
  let ranOut = false;
  // Read in batches until the page is full: a filter may skip many events.
  page: while (chunk.length < options.limit) {
    const batch = Math.min(500, Math.max(50, options.limit * 2));
    const rows = backwards
      ? await db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM}
            WHERE e.room_id = $1 AND e.stream_position <= $2 AND e.stream_position > $3
            ORDER BY e.stream_position DESC LIMIT $4`,
          [roomId, cursor, lower, batch],
        )
      : await db.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM}
            WHERE e.room_id = $1 AND e.stream_position > $2 AND e.stream_position <= $3
            ORDER BY e.stream_position ASC LIMIT $4`,
          [roomId, cursor, upper, batch],
        );
    for (const event of await events.fromRows(db, rows)) {
      const position = event.streamPosition ?? 0;
      cursor = backwards ? position - 1 : position;
      if (eventMatches(event, options.filter)) chunk.push(event);
      if (chunk.length >= options.limit) break page;
    }
    if (rows.length < batch) {
      ranOut = true;
      break;
    }
  }
  return {
    chunk,
    start: roomToken(backwards ? Math.min(options.from, options.bound) : options.from),
    end: ranOut ? undefined : roomToken(cursor),
  };
}
