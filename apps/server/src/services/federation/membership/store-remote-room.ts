/**
 * Making a room that lives on another server local after `send_join` (spec server-server-api
 * "Joining Rooms"): in one write transaction
 * 1. the room row (version, creator from the create event);
 * 2. every accepted state and auth chain event as an outlier (no stream position: clients see
 *    them as the room state, never as timeline), in multi-row inserts on PostgreSQL — for a big
 *    answer most are already stored by then (store-outliers.ts, while the answer was checked):
 *    here go the rest, and the early rows of events the auth rules refused are deleted;
 * 3. one state group holding the whole state, the current state entries and the memberships;
 * 4. the join's `prev_events` as forward extremities and the room depth;
 * 5. the join itself through the rooms service's `persistBuilt`, so it gets a stream position,
 *    updates state and membership and runs the `onEventPersisted` listeners like any event.
 * From then on the room is served by the ordinary rooms code (sync, send, messages).
 */
import type { SqlExecutor, SqlValue } from '../../../storage/index.ts';
import { nextStreamPosition } from '../../core/stream.ts';
import { loadRoom } from '../../rooms/room-store.ts';
import type { RoomService } from '../../rooms/service.ts';
import type { StoredEvent } from '../../rooms/types.ts';
import { type EarlyOutliers, insertOutlierRows } from './store-outliers.ts';
import type { VerifiedPdu } from './verify-received.ts';
import type { VerifiedRoomState } from './verify-room-state.ts';

/** Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_INSERT = 100;
/**
 * Membership rows per INSERT: one prepared single-row upsert a row on SQLite (in-process, no
 * round trip to save; the state group's 30,000 single-row inserts take a fifth of the time the
 * 100-row upserts of as many memberships did), 100-row lists on PostgreSQL.
 */
const MEMBERSHIPS_PER_INSERT = { sqlite: 1, postgres: ROWS_PER_INSERT } as const;

/**
 * `INSERT … VALUES (…), (…) …` of `rows` (all of one width) in chunks of `perInsert` rows.
 * `constants` are SQL literals appended to each row. The statement text is built once per chunk
 * size, not per chunk: on SQLite a chunk is one row, and building (and hashing, for the
 * prepared-statement cache) a new text for each of 30,000 memberships was a cost of its own in
 * the store phase, which runs after the check on this thread alone.
 */
async function insertRows(
  tx: SqlExecutor,
  perInsert: number,
  head: string,
  rows: readonly unknown[][],
  constants = '',
  tail = '',
): Promise<void> {
  const texts = new Map<number, string>();
  const textFor = (count: number, width: number): string => {
    let text = texts.get(count);
    if (text === undefined) {
      const tuples = Array.from({ length: count }, (_, row) => {
        const marks = Array.from({ length: width }, (_, column) => `$${row * width + column + 1}`);
        if (constants !== '') marks.push(constants);
        return `(${marks.join(', ')})`;
      });
      text = `${head} ${tuples.join(', ')} ${tail}`;
      texts.set(count, text);
    }
    return text;
  };
  for (let start = 0; start < rows.length; start += perInsert) {
    const chunk = rows.slice(start, start + perInsert);
    const width = chunk[0]?.length ?? 0;
    const params = perInsert === 1 ? (chunk[0] ?? []) : chunk.flat();
    await tx.execute(textFor(chunk.length, width), params as SqlValue[]);
  }
}

/**
 * Stores the room of `verified` and `join`; returns the stored join. `early` holds the outliers
 * already stored while the answer was checked.
 */
export async function storeRemoteRoom(
  rooms: RoomService,
  roomId: string,
  roomVersion: string,
  verified: VerifiedRoomState,
  join: VerifiedPdu,
  early?: EarlyOutliers,
): Promise<StoredEvent> {
  const stored = await rooms.ctx.db.transaction(async (tx) => {
    const create = [...verified.events.values()].find(
      (e) => e.dag.type === 'm.room.create' && e.dag.state_key === '',
    );
    const existing = await loadRoom(tx, roomId);
    if (existing === undefined) {
      await tx.execute(
        `INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public, current_state_group, max_depth)
         VALUES ($1, $2, $3, $4, 0, NULL, 0)`,
        [roomId, roomVersion, create?.dag.sender ?? join.dag.sender, rooms.ctx.now()],
      );
    }
    let maxDepth = existing?.maxDepth ?? 0;
    const toInsert: VerifiedPdu[] = [];
    for (const event of verified.events.values()) {
      // A resident server answering a repeated send_join may list the join itself in the
      // state; it is stored once, below, as the timeline event it is.
      if (event.eventId === join.eventId) continue;
      maxDepth = Math.max(maxDepth, event.dag.depth);
      const stored = early?.attempted.get(event.eventId);
      if (stored === undefined) {
        toInsert.push(event);
      } else if (!early?.inserted.has(event.eventId)) {
        // Its early insert met a row already there; should that row have gone since, write it.
        toInsert.push(event);
      } else if (stored !== event && JSON.stringify(stored.pdu) !== JSON.stringify(event.pdu)) {
        // Another copy of the event (say, other `unsigned`) was written early: keep this one.
        await tx.execute('UPDATE events SET pdu = $1 WHERE event_id = $2', [
          JSON.stringify(event.pdu),
          event.eventId,
        ]);
      }
    }
    await insertOutlierRows(tx, rooms.ctx.db.dialect, roomId, toInsert);
    // Rows stored early of events the authorization rules then refused.
    for (const eventId of early?.inserted ?? []) {
      if (verified.events.has(eventId)) continue;
      await tx.execute(
        'DELETE FROM events WHERE event_id = $1 AND outlier = 1 AND stream_position IS NULL',
        [eventId],
      );
    }
    // A group without a previous one holds the whole state as its entries.
    const group = await rooms.states.create(tx, roomId, null, verified.state);
    const membershipPosition = await nextStreamPosition(tx);
    await tx.execute('DELETE FROM room_current_state WHERE room_id = $1', [roomId]);
    // The current state is that group's entries, copied inside the database: for 30,000 rows
    // this was ≈ 0.4 s of 100-row VALUES lists (the memberships below cost as much).
    await tx.execute(
      `INSERT INTO room_current_state (room_id, type, state_key, event_id)
       SELECT CAST($1 AS TEXT), type, state_key, event_id FROM state_group_entries
       WHERE group_id = $2`,
      [roomId, group],
    );
    const memberRows: unknown[][] = [];
    for (const eventId of verified.state.values()) {
      const { dag } = verified.events.get(eventId) as VerifiedPdu;
      const membership = dag.content['membership'];
      if (dag.type === 'm.room.member' && typeof membership === 'string') {
        memberRows.push([roomId, dag.state_key ?? '', membership, eventId, membershipPosition]);
      }
    }
    await insertRows(
      tx,
      MEMBERSHIPS_PER_INSERT[rooms.ctx.db.dialect],
      `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position,
         forgotten) VALUES`,
      memberRows,
      '0',
      `ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership,
         event_id = excluded.event_id, stream_position = excluded.stream_position`,
    );
    await tx.execute('DELETE FROM room_forward_extremities WHERE room_id = $1', [roomId]);
    // A stored remote invite (receive-invite.ts) is answered by this join.
    await tx.execute('DELETE FROM federation_invites WHERE room_id = $1 AND user_id = $2', [
      roomId,
      join.dag.sender,
    ]);
    await tx.execute(
      'UPDATE rooms SET current_state_group = $1, max_depth = $2 WHERE room_id = $3',
      [group, maxDepth, roomId],
    );
    const room = await loadRoom(tx, roomId);
    if (room === undefined) throw new Error('room row not readable');
    const event = await rooms.persistBuilt(tx, room, join);
    const position = event.streamPosition ?? 0;
    // Announced right after COMMIT, under the write lock: before any later commit is.
    if (position > 0) tx.afterCommit(() => rooms.ctx.notifier.notify(position));
    return event;
  });
  return stored;
}
