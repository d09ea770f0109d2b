/** SQL of push evaluation results: `event_push_actions` (migration 0050), `unread_counts` (0100). */
import type { SqlExecutor } from '../../storage/index.ts';

export type PushActionRow = {
  readonly user_id: string;
  readonly room_id: string;
  readonly event_id: string;
  readonly stream_position: number;
  readonly notify: number;
  readonly highlight: number;
  readonly actions_json: string;
  readonly ts: number;
};

/** Drops every user's push actions for one event. */
export async function deletePushActions(tx: SqlExecutor, eventId: string): Promise<void> {
  await tx.execute('DELETE FROM event_push_actions WHERE event_id = $1', [eventId]);
}

/**
 * Stores the push actions of one event for its recipients and adds them to their unread counts
 * (`unread_counts`, migration 0100) as of the event's position; a row already stored (the same
 * event evaluated twice) is not counted again.
 */
export async function insertPushActions(
  tx: SqlExecutor,
  rows: readonly PushActionRow[],
): Promise<UnreadRow[]> {
  const inserted: PushActionRow[] = [];
  for (const row of rows) {
    if (await insertRow(tx, row)) inserted.push(row);
  }
  const counts: UnreadRow[] = [];
  // PostgreSQL takes at most 65,535 parameters per statement: 5 per row, so 1,000 rows a batch.
  for (let start = 0; start < inserted.length; start += 1000) {
    counts.push(...(await addUnread(tx, inserted.slice(start, start + 1000))));
  }
  return counts;
}

/** A user's kept unread counts in a room, as of the position of their last change. */
export type UnreadRow = {
  readonly user_id: string;
  readonly notifications: number;
  readonly highlights: number;
  readonly stream_position: number;
};

/**
 * Inserts one row; whether it was new. One single-row statement per row, prepared once, and the
 * affected-row count instead of `RETURNING`: on SQLite a multi-row `INSERT … ON CONFLICT DO
 * NOTHING RETURNING` into this four-index table cost ≈ 3× the same rows inserted this way
 * (57 against 21 µs a row, apps/server/README.md "Performance").
 */
async function insertRow(tx: SqlExecutor, row: PushActionRow): Promise<boolean> {
  const changes = await tx.execute(
    `INSERT INTO event_push_actions
       (user_id, room_id, event_id, stream_position, notify, highlight, actions_json, ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (user_id, event_id) DO NOTHING`,
    [
      row.user_id,
      row.room_id,
      row.event_id,
      row.stream_position,
      row.notify,
      row.highlight,
      row.actions_json,
      row.ts,
    ],
  );
  return changes > 0;
}

/** Adds rows (one event's, so one per user) to their users' unread counts; returns the sums. */
async function addUnread(tx: SqlExecutor, rows: readonly PushActionRow[]): Promise<UnreadRow[]> {
  if (rows.length === 0) return [];
  const values = rows.map((_, i) => {
    const n = i * 5;
    return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5})`;
  });
  return tx.query<UnreadRow>(
    `INSERT INTO unread_counts (user_id, room_id, notifications, highlights, stream_position)
     VALUES ${values.join(', ')}
     ON CONFLICT (user_id, room_id) DO UPDATE SET
       notifications = unread_counts.notifications + excluded.notifications,
       highlights = unread_counts.highlights + excluded.highlights,
       stream_position = excluded.stream_position
     RETURNING user_id, notifications, highlights, stream_position`,
    rows.flatMap((row) => [
      row.user_id,
      row.room_id,
      row.notify,
      row.highlight,
      row.stream_position,
    ]),
  );
}

/**
 * Recounts a user's unread counts in a room from `event_push_actions` (after a read receipt,
 * their join or a redaction changed what is unread) as of stream position `position`, the
 * position of that change.
 */
export async function recountUnread(
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  position: number,
): Promise<{ notifications: number; highlights: number }> {
  const counts = await countUnread(tx, userId, roomId, position);
  await setUnread(tx, userId, roomId, counts, position);
  return counts;
}

/** Sets a user's unread counts in a room as of stream position `position`. */
export async function setUnread(
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  counts: { readonly notifications: number; readonly highlights: number },
  position: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO unread_counts (user_id, room_id, notifications, highlights, stream_position)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, room_id) DO UPDATE SET notifications = excluded.notifications,
       highlights = excluded.highlights, stream_position = excluded.stream_position`,
    [userId, roomId, counts.notifications, counts.highlights, position],
  );
}

/** The users with push actions for `eventId`, and their rooms (before a redaction drops them). */
export async function pushActionUsers(
  tx: SqlExecutor,
  eventId: string,
): Promise<{ user_id: string; room_id: string }[]> {
  return tx.query<{ user_id: string; room_id: string }>(
    'SELECT user_id, room_id FROM event_push_actions WHERE event_id = $1',
    [eventId],
  );
}

/**
 * How far a user has read a room, as a stream position: the event their latest main-timeline
 * read receipt (`m.read` or `m.read.private`, unthreaded or `main`) points at, and at least
 * their join (what came before, such as their own invite, is not unread — Synapse does the
 * same). Spec client-server-api "Receiving notifications": receipts reset the counts.
 */
const READ_UP_TO = `(SELECT MAX(read_up_to.p) FROM (
    SELECT e.stream_position AS p FROM receipts r JOIN events e ON e.event_id = r.event_id
     WHERE r.room_id = a.room_id AND r.user_id = a.user_id
       AND r.receipt_type IN ('m.read', 'm.read.private') AND r.thread_id IN ('', 'main')
    UNION ALL
    SELECT m.stream_position AS p FROM room_memberships m
     WHERE m.room_id = a.room_id AND m.user_id = a.user_id AND m.membership = 'join'
    UNION ALL SELECT 0 AS p) read_up_to)`;

/** A user's kept unread counts row of a room, if any. */
export function keptUnread(
  db: SqlExecutor,
  userId: string,
  roomId: string,
): Promise<Omit<UnreadRow, 'user_id'> | undefined> {
  return db.queryOne<Omit<UnreadRow, 'user_id'>>(
    `SELECT notifications, highlights, stream_position FROM unread_counts
      WHERE user_id = $1 AND room_id = $2`,
    [userId, roomId],
  );
}

/** The counts as of `to` given the kept row (`undefined`: none). */
export async function countsAsOf(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  kept: Omit<UnreadRow, 'user_id'> | undefined,
  to: number,
): Promise<{ notifications: number; highlights: number }> {
  // No row: nothing was ever unread (every push action and recount writes one).
  if (kept === undefined) return { notifications: 0, highlights: 0 };
  if (Number(kept.stream_position) <= to) {
    return { notifications: Number(kept.notifications), highlights: Number(kept.highlights) };
  }
  return countUnread(db, userId, roomId, to);
}

/** Unread counts of a user in a room up to stream position `to`, counted from the rows. */
export async function countUnread(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  to: number,
): Promise<{ notifications: number; highlights: number }> {
  const row = await db.queryOne<{ notifications: number | null; highlights: number | null }>(
    `SELECT SUM(a.notify) AS notifications, SUM(a.highlight) AS highlights
       FROM event_push_actions a
      WHERE a.user_id = $1 AND a.room_id = $2 AND a.stream_position <= $3
        AND a.stream_position > ${READ_UP_TO}`,
    [userId, roomId, to],
  );
  return {
    notifications: Number(row?.notifications ?? 0),
    highlights: Number(row?.highlights ?? 0),
  };
}

/** A user's push actions before stream position `before`, newest first, with whether each is read. */
export async function pushActionsBefore(
  db: SqlExecutor,
  userId: string,
  before: number,
  limit: number,
  onlyHighlights: boolean,
): Promise<(PushActionRow & { read_up_to: number })[]> {
  return db.query<PushActionRow & { read_up_to: number }>(
    `SELECT a.*, ${READ_UP_TO} AS read_up_to FROM event_push_actions a
      WHERE a.user_id = $1 AND a.stream_position < $2 ${onlyHighlights ? 'AND a.highlight = 1' : ''}
      ORDER BY a.stream_position DESC LIMIT $3`,
    [userId, before, limit],
  );
}
