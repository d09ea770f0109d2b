/** SQL of push evaluation results: `event_push_actions` (migration 0050). */
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

/** Stores the push actions of one event for its recipients, in one statement. */
export async function insertPushActions(
  tx: SqlExecutor,
  rows: readonly PushActionRow[],
): Promise<void> {
  // PostgreSQL takes at most 65,535 parameters per statement: 8 per row, so 1,000 rows a batch.
  for (let start = 0; start < rows.length; start += 1000) {
    await insertBatch(tx, rows.slice(start, start + 1000));
  }
}

async function insertBatch(tx: SqlExecutor, rows: readonly PushActionRow[]): Promise<void> {
  const values = rows.map((_, i) => {
    const n = i * 8;
    return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6}, $${n + 7}, $${n + 8})`;
  });
  await tx.execute(
    `INSERT INTO event_push_actions
       (user_id, room_id, event_id, stream_position, notify, highlight, actions_json, ts)
     VALUES ${values.join(', ')} ON CONFLICT (user_id, event_id) DO NOTHING`,
    rows.flatMap((row) => [
      row.user_id,
      row.room_id,
      row.event_id,
      row.stream_position,
      row.notify,
      row.highlight,
      row.actions_json,
      row.ts,
    ]),
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

/** Unread notification and highlight counts of a user in a room, up to stream position `to`. */
export async function unreadCounts(
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
