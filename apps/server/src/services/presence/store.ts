/** SQL of the presence service: one row per user who ever set a presence. */
import type { SqlExecutor } from '../../storage/index.ts';
import { usersSharingRoomsWith } from '../rooms/room-store.ts';

export type PresenceRow = {
  readonly user_id: string;
  readonly presence: string;
  readonly status_msg: string | null;
  readonly last_active_ts: number;
  readonly stream_position: number;
};

export async function upsertPresence(
  tx: SqlExecutor,
  userId: string,
  presence: string,
  statusMsg: string | null,
  now: number,
  position: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO presence (user_id, presence, status_msg, last_active_ts, stream_position)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id) DO UPDATE SET presence = excluded.presence,
       status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts,
       stream_position = excluded.stream_position`,
    [userId, presence, statusMsg, now, position],
  );
}

export function selectPresence(db: SqlExecutor, userId: string): Promise<PresenceRow | undefined> {
  return db.queryOne<PresenceRow>(
    'SELECT user_id, presence, status_msg, last_active_ts, stream_position FROM presence WHERE user_id = $1',
    [userId],
  );
}

export function selectPresenceBetween(
  db: SqlExecutor,
  from: number,
  to: number,
): Promise<PresenceRow[]> {
  return db.query<PresenceRow>(
    `SELECT user_id, presence, status_msg, last_active_ts, stream_position FROM presence
      WHERE stream_position > $1 AND stream_position <= $2 ORDER BY stream_position`,
    [from, to],
  );
}

/** The users sharing a joined room with `userId`: those whose `/sync` shows its presence. */
export async function presenceAudience(db: SqlExecutor, userId: string): Promise<string[]> {
  return (await usersSharingRoomsWith(db, userId)).filter((other) => other !== userId);
}

/** Whether `a` and `b` are both joined to some room (spec "Presence": who may see `b`'s). */
export async function shareJoinedRoom(db: SqlExecutor, a: string, b: string): Promise<boolean> {
  const row = await db.queryOne(
    `SELECT 1 AS shared FROM room_memberships mine
       JOIN room_memberships other ON other.room_id = mine.room_id
      WHERE mine.user_id = $1 AND mine.membership = 'join'
        AND other.user_id = $2 AND other.membership = 'join'
      LIMIT 1`,
    [a, b],
  );
  return row !== undefined;
}

/** The users whose stored presence is not `offline` (the sweep's start). */
export async function selectPresentUsers(db: SqlExecutor): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    "SELECT user_id FROM presence WHERE presence <> 'offline'",
  );
  return rows.map((row) => row.user_id);
}
