/**
 * SQL of the pushers service: one row per (user, app_id, pushkey) in `pushers` (migration 0108),
 * with how far its notifications have gone (`last_stream_position`, migration 0116).
 */
import type { SqlExecutor } from '../../storage/index.ts';

export type PusherRow = {
  readonly user_id: string;
  readonly app_id: string;
  readonly pushkey: string;
  readonly device_id: string;
  readonly kind: string;
  readonly app_display_name: string;
  readonly device_display_name: string;
  readonly profile_tag: string | null;
  readonly lang: string;
  readonly data: string;
  readonly pushkey_ts: number;
};

const COLUMNS = `user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name,
  profile_tag, lang, data, pushkey_ts`;

/** A user's pushers, in a stable order. */
export function selectPushers(db: SqlExecutor, userId: string): Promise<PusherRow[]> {
  return db.query<PusherRow>(
    `SELECT ${COLUMNS} FROM pushers WHERE user_id = $1 ORDER BY app_id, pushkey`,
    [userId],
  );
}

/** Every user with at least one pusher (loaded once at start). */
export async function selectPusherUsers(db: SqlExecutor): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>('SELECT DISTINCT user_id FROM pushers');
  return rows.map((row) => row.user_id);
}

/** A pusher and how far its notifications have gone. */
export type PusherProgressRow = PusherRow & { readonly last_stream_position: number };

/** Every `http` pusher with its progress (read once at start, to resume delivery). */
export async function selectPusherProgress(db: SqlExecutor): Promise<PusherProgressRow[]> {
  const rows = await db.query<PusherProgressRow>(
    `SELECT ${COLUMNS}, last_stream_position FROM pushers WHERE kind = 'http'
      ORDER BY user_id, app_id, pushkey`,
  );
  return rows.map((row) => ({ ...row, last_stream_position: Number(row.last_stream_position) }));
}

/** A pusher's notifications finished up to `position` (the event's stream position). */
export type PusherProgress = {
  readonly userId: string;
  readonly appId: string;
  readonly pushkey: string;
  readonly position: number;
};

/**
 * Records how far pushers' notifications have gone, in one transaction; never moves a pusher's
 * position back, and a pusher deleted meanwhile is left alone.
 */
export async function advancePushers(
  tx: SqlExecutor,
  progress: readonly PusherProgress[],
): Promise<void> {
  for (const p of progress) {
    await tx.execute(
      `UPDATE pushers SET last_stream_position = $4
        WHERE user_id = $1 AND app_id = $2 AND pushkey = $3 AND last_stream_position < $4`,
      [p.userId, p.appId, p.pushkey, p.position],
    );
  }
}

/** Whether the user has any pusher left. */
export async function hasPushers(db: SqlExecutor, userId: string): Promise<boolean> {
  const row = await db.queryOne('SELECT 1 AS one FROM pushers WHERE user_id = $1 LIMIT 1', [
    userId,
  ]);
  return row !== undefined;
}

/** How many pushers the user has, and whether one of (`app_id`, `pushkey`) is among them. */
export async function countPushers(
  db: SqlExecutor,
  userId: string,
  appId: string,
  pushkey: string,
): Promise<{ readonly total: number; readonly exists: boolean }> {
  const row = await db.queryOne<{ total: number | string; same: number | string | null }>(
    `SELECT COUNT(*) AS total,
            SUM(CASE WHEN app_id = $2 AND pushkey = $3 THEN 1 ELSE 0 END) AS same
       FROM pushers WHERE user_id = $1`,
    [userId, appId, pushkey],
  );
  return { total: Number(row?.total ?? 0), exists: Number(row?.same ?? 0) > 0 };
}

/**
 * Creates or replaces the user's pusher of (`app_id`, `pushkey`). A new pusher's notifications
 * start after the current stream position (nothing older is sent to it after a restart); a
 * replaced one keeps its progress.
 */
export async function upsertPusher(tx: SqlExecutor, row: PusherRow): Promise<void> {
  await tx.execute(
    `INSERT INTO pushers (${COLUMNS}, last_stream_position)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
       COALESCE((SELECT position FROM stream_position WHERE id = 1), 0))
     ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
       device_id = excluded.device_id,
       kind = excluded.kind,
       app_display_name = excluded.app_display_name,
       device_display_name = excluded.device_display_name,
       profile_tag = excluded.profile_tag,
       lang = excluded.lang,
       data = excluded.data,
       pushkey_ts = excluded.pushkey_ts`,
    [
      row.user_id,
      row.app_id,
      row.pushkey,
      row.device_id,
      row.kind,
      row.app_display_name,
      row.device_display_name,
      row.profile_tag,
      row.lang,
      row.data,
      row.pushkey_ts,
    ],
  );
}

/** Deletes one pusher of a user; returns how many rows went (0 or 1). */
export function deletePusher(
  tx: SqlExecutor,
  userId: string,
  appId: string,
  pushkey: string,
): Promise<number> {
  return tx.execute('DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3', [
    userId,
    appId,
    pushkey,
  ]);
}

/**
 * Deletes the pushers of (`app_id`, `pushkey`) of every user but `userId` (`append: false`);
 * returns those users.
 */
export async function deleteOtherUsersPushers(
  tx: SqlExecutor,
  userId: string,
  appId: string,
  pushkey: string,
): Promise<string[]> {
  const rows = await tx.query<{ user_id: string }>(
    'SELECT user_id FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3',
    [appId, pushkey, userId],
  );
  if (rows.length === 0) return [];
  await tx.execute('DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3', [
    appId,
    pushkey,
    userId,
  ]);
  return rows.map((row) => row.user_id);
}

/**
 * Deletes the pushers of one device of a user; returns the (app ID, pushkey) of those that went.
 * One statement, so on PostgreSQL a pusher set for the device meanwhile is either deleted and
 * reported (its queue then dropped) or left whole, never deleted unreported.
 */
export function deleteDevicePushers(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<{ app_id: string; pushkey: string }[]> {
  return tx.query<{ app_id: string; pushkey: string }>(
    'DELETE FROM pushers WHERE user_id = $1 AND device_id = $2 RETURNING app_id, pushkey',
    [userId, deviceId],
  );
}

/**
 * The user's unread count for a push gateway's `counts.unread` ("unread messages across all of
 * the rooms they are a member of"): the sum of their kept notification counts (`unread_counts`,
 * what `/sync`'s `unread_notifications.notification_count` shows) of the rooms they are joined
 * to or invited to (an invite notifies once, as Synapse's badge counts invites).
 */
export async function selectUnreadTotal(db: SqlExecutor, userId: string): Promise<number> {
  const row = await db.queryOne<{ n: number | null }>(
    `SELECT SUM(u.notifications) AS n FROM unread_counts u
       JOIN room_memberships m ON m.room_id = u.room_id AND m.user_id = u.user_id
      WHERE u.user_id = $1 AND m.membership IN ('join', 'invite')`,
    [userId],
  );
  return Number(row?.n ?? 0);
}
