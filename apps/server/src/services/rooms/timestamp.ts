/**
 * Jump to date (client-server-api `GET /rooms/{roomId}/timestamp_to_event`,
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidtimestamp_to_event,
 * and its federation twin): the room's event closest to a timestamp in one direction — the first
 * with `origin_server_ts` at or after it (`f`), or the last at or before it (`b`) — among the
 * events of the timeline (those with a stream position: no outliers, rejected or soft-failed
 * events) that the asker may see. Ties on the timestamp go by stream order. Read through the
 * `events_by_room_ts` index (migration 0110), in batches until one visible event turns up.
 */
import type { RoomService } from './service.ts';
import type { StoredEvent } from './types.ts';

/** Events read per query. */
const BATCH = 50;
/** Events looked at, at most, before answering that there is none. */
const MAX_SCANNED = 2_000;

export interface TimestampLookup {
  readonly roomId: string;
  readonly ts: number;
  readonly dir: 'f' | 'b';
  /** The last stream position the asker may see (a former member's leave), if any. */
  readonly bound?: number | undefined;
  /** Keeps the events of a batch the asker may see. */
  readonly visible: (events: readonly StoredEvent[]) => Promise<readonly StoredEvent[]>;
}

/** The closest visible event, or `undefined` when there is none in that direction. */
export async function eventByTimestamp(
  rooms: RoomService,
  lookup: TimestampLookup,
): Promise<StoredEvent | undefined> {
  const forward = lookup.dir === 'f';
  const bound = lookup.bound ?? Number.MAX_SAFE_INTEGER;
  // The keyset cursor: (ts, position) of the last event read; the first batch includes `ts`.
  let cursorTs = lookup.ts;
  let cursorPosition = forward ? -1 : Number.MAX_SAFE_INTEGER;
  let scanned = 0;
  while (scanned < MAX_SCANNED) {
    const rows = await rooms.ctx.db.query<{
      event_id: string;
      origin_server_ts: number;
      stream_position: number;
    }>(
      forward
        ? `SELECT event_id, origin_server_ts, stream_position FROM events
            WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
              AND origin_server_ts >= $2 AND (origin_server_ts > $2 OR stream_position > $3)
            ORDER BY origin_server_ts, stream_position LIMIT ${BATCH}`
        : `SELECT event_id, origin_server_ts, stream_position FROM events
            WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
              AND origin_server_ts <= $2 AND (origin_server_ts < $2 OR stream_position < $3)
            ORDER BY origin_server_ts DESC, stream_position DESC LIMIT ${BATCH}`,
      [lookup.roomId, cursorTs, cursorPosition, bound],
    );
    if (rows.length === 0) return undefined;
    scanned += rows.length;
    const found = await rooms.getEvents(rows.map((row) => row.event_id));
    const batch = rows.flatMap((row) => found.get(row.event_id) ?? []);
    const visible = new Set((await lookup.visible(batch)).map((event) => event.eventId));
    const hit = batch.find((event) => visible.has(event.eventId));
    if (hit !== undefined) return hit;
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < BATCH) return undefined;
    cursorTs = Number(last.origin_server_ts);
    cursorPosition = Number(last.stream_position);
  }
  return undefined;
}
