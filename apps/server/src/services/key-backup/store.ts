/**
 * SQL of the key-backup service: one row per (user, version) in `key_backup_versions`, one per
 * (user, version, room, session) in `key_backup_sessions` (migration 0105).
 */
import type { SqlExecutor } from '../../storage/index.ts';

export type BackupVersionRow = {
  readonly version: number;
  readonly algorithm: string;
  readonly auth_data: string;
  readonly etag: number;
  readonly key_count: number;
  readonly deleted: number;
};

export type BackupSessionRow = {
  readonly room_id: string;
  readonly session_id: string;
  readonly first_message_index: number;
  readonly forwarded_count: number;
  readonly is_verified: number;
  readonly session_data: string;
};

const VERSION_COLUMNS = 'version, algorithm, auth_data, etag, key_count, deleted';
const SESSION_COLUMNS =
  'room_id, session_id, first_message_index, forwarded_count, is_verified, session_data';

/** The highest version number the user ever had, deleted ones included; 0 for none. */
export async function selectMaxVersion(db: SqlExecutor, userId: string): Promise<number> {
  const row = await db.queryOne<{ v: number | null }>(
    'SELECT MAX(version) AS v FROM key_backup_versions WHERE user_id = $1',
    [userId],
  );
  return Number(row?.v ?? 0);
}

export async function insertVersion(
  tx: SqlExecutor,
  userId: string,
  version: number,
  algorithm: string,
  authData: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO key_backup_versions
       (user_id, version, algorithm, auth_data, etag, key_count, deleted)
     VALUES ($1, $2, $3, $4, 0, 0, 0)`,
    [userId, version, algorithm, authData],
  );
}

/** One version's row, deleted or not. */
export function selectVersion(
  db: SqlExecutor,
  userId: string,
  version: number,
): Promise<BackupVersionRow | undefined> {
  return db.queryOne<BackupVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM key_backup_versions WHERE user_id = $1 AND version = $2`,
    [userId, version],
  );
}

/** The current version: the highest one not deleted. */
export function selectCurrentVersion(
  db: SqlExecutor,
  userId: string,
): Promise<BackupVersionRow | undefined> {
  return db.queryOne<BackupVersionRow>(
    `SELECT ${VERSION_COLUMNS} FROM key_backup_versions
      WHERE user_id = $1 AND deleted = 0 ORDER BY version DESC LIMIT 1`,
    [userId],
  );
}

export async function updateAuthData(
  tx: SqlExecutor,
  userId: string,
  version: number,
  authData: string,
): Promise<void> {
  await tx.execute(
    'UPDATE key_backup_versions SET auth_data = $3 WHERE user_id = $1 AND version = $2',
    [userId, version, authData],
  );
}

/** Sets a version's key count and etag after its keys changed. */
export async function updateVersionKeys(
  tx: SqlExecutor,
  userId: string,
  version: number,
  etag: number,
  keyCount: number,
): Promise<void> {
  await tx.execute(
    'UPDATE key_backup_versions SET etag = $3, key_count = $4 WHERE user_id = $1 AND version = $2',
    [userId, version, etag, keyCount],
  );
}

/** Marks a version deleted (its keys go with {@link deleteSessions}). */
export async function markVersionDeleted(
  tx: SqlExecutor,
  userId: string,
  version: number,
): Promise<void> {
  await tx.execute(
    'UPDATE key_backup_versions SET deleted = 1, key_count = 0 WHERE user_id = $1 AND version = $2',
    [userId, version],
  );
}

/** The keys of a version: all of them, of one room, or one session of one room. */
export function selectSessions(
  db: SqlExecutor,
  userId: string,
  version: number,
  roomId?: string,
  sessionId?: string,
): Promise<BackupSessionRow[]> {
  const base = `SELECT ${SESSION_COLUMNS} FROM key_backup_sessions WHERE user_id = $1 AND version = $2`;
  if (roomId === undefined) {
    return db.query<BackupSessionRow>(`${base} ORDER BY room_id, session_id`, [userId, version]);
  }
  if (sessionId === undefined) {
    return db.query<BackupSessionRow>(`${base} AND room_id = $3 ORDER BY session_id`, [
      userId,
      version,
      roomId,
    ]);
  }
  return db.query<BackupSessionRow>(`${base} AND room_id = $3 AND session_id = $4`, [
    userId,
    version,
    roomId,
    sessionId,
  ]);
}

/** The stored metadata of one session key, for the replacement rule; `undefined` if none. */
export function selectSessionMeta(
  db: SqlExecutor,
  userId: string,
  version: number,
  roomId: string,
  sessionId: string,
): Promise<
  Pick<BackupSessionRow, 'first_message_index' | 'forwarded_count' | 'is_verified'> | undefined
> {
  return db.queryOne(
    `SELECT first_message_index, forwarded_count, is_verified FROM key_backup_sessions
      WHERE user_id = $1 AND version = $2 AND room_id = $3 AND session_id = $4`,
    [userId, version, roomId, sessionId],
  );
}

export async function upsertSession(
  tx: SqlExecutor,
  userId: string,
  version: number,
  roomId: string,
  sessionId: string,
  firstMessageIndex: number,
  forwardedCount: number,
  isVerified: boolean,
  sessionData: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO key_backup_sessions (user_id, version, room_id, session_id,
       first_message_index, forwarded_count, is_verified, session_data)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
       first_message_index = excluded.first_message_index,
       forwarded_count = excluded.forwarded_count,
       is_verified = excluded.is_verified,
       session_data = excluded.session_data`,
    [
      userId,
      version,
      roomId,
      sessionId,
      firstMessageIndex,
      forwardedCount,
      isVerified ? 1 : 0,
      sessionData,
    ],
  );
}

/** Deletes a version's keys: all of them, of one room, or one session; returns how many. */
export function deleteSessions(
  tx: SqlExecutor,
  userId: string,
  version: number,
  roomId?: string,
  sessionId?: string,
): Promise<number> {
  const base = 'DELETE FROM key_backup_sessions WHERE user_id = $1 AND version = $2';
  if (roomId === undefined) return tx.execute(base, [userId, version]);
  if (sessionId === undefined) {
    return tx.execute(`${base} AND room_id = $3`, [userId, version, roomId]);
  }
  return tx.execute(`${base} AND room_id = $3 AND session_id = $4`, [
    userId,
    version,
    roomId,
    sessionId,
  ]);
}
