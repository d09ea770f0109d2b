/**
 * SQL of the key-backup service: one row per (user, version) in `key_backup_versions`, one per
 * (user, version, room, session) in `key_backup_sessions` (migration 0105).
 */
import { textPerCount } from '../../storage/in-list.ts';
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

/** What the replacement rule reads of a stored session key. */
export type SessionMeta = Pick<
  BackupSessionRow,
  'first_message_index' | 'forwarded_count' | 'is_verified'
>;

/** A session key named by its room and session. */
export type SessionKey = { readonly roomId: string; readonly sessionId: string };

/** Keys per metadata read (two bound values each, with the user and version). */
const META_CHUNK = 200;

const selectMetaSql = textPerCount((count) => {
  const rows = Array.from({ length: count }, (_, i) => `($${2 * i + 3}, $${2 * i + 4})`);
  return `SELECT room_id, session_id, first_message_index, forwarded_count, is_verified
      FROM key_backup_sessions
     WHERE user_id = $1 AND version = $2 AND (room_id, session_id) IN (VALUES ${rows.join(', ')})`;
}, 16);

/**
 * The stored metadata of the session keys `keys` names, for the replacement rule: room ID →
 * session ID → metadata, for those stored. One read per {@link META_CHUNK} keys (a row-value
 * `IN (VALUES …)`: one primary-key lookup per key on both databases).
 */
export async function selectSessionMetas(
  db: SqlExecutor,
  userId: string,
  version: number,
  keys: readonly SessionKey[],
): Promise<Map<string, Map<string, SessionMeta>>> {
  const out = new Map<string, Map<string, SessionMeta>>();
  for (let i = 0; i < keys.length; i += META_CHUNK) {
    const chunk = keys.slice(i, i + META_CHUNK);
    const params: (string | number)[] = [userId, version];
    for (const key of chunk) params.push(key.roomId, key.sessionId);
    const rows = await db.query<SessionMeta & { room_id: string; session_id: string }>(
      selectMetaSql(chunk.length),
      params,
    );
    for (const { room_id: roomId, session_id: sessionId, ...meta } of rows) {
      let room = out.get(roomId);
      if (room === undefined) {
        room = new Map();
        out.set(roomId, room);
      }
      room.set(sessionId, meta);
    }
  }
  return out;
}

/** One session key to write. */
export type SessionWrite = SessionKey & {
  readonly firstMessageIndex: number;
  readonly forwardedCount: number;
  readonly isVerified: boolean;
  readonly sessionData: string;
};

/** Rows per upsert (six bound values each, with the user and version). */
const WRITE_CHUNK = 80;

const upsertSessionsSql = textPerCount((count) => {
  const rows = Array.from({ length: count }, (_, i) => {
    const n = 6 * i + 3;
    return `($1, $2, $${n}, $${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5})`;
  });
  return `INSERT INTO key_backup_sessions (user_id, version, room_id, session_id,
       first_message_index, forwarded_count, is_verified, session_data)
     VALUES ${rows.join(', ')}
     ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET
       first_message_index = excluded.first_message_index,
       forwarded_count = excluded.forwarded_count,
       is_verified = excluded.is_verified,
       session_data = excluded.session_data`;
}, 16);

/**
 * Inserts or replaces the session keys `writes` (each session at most once: PostgreSQL refuses
 * an upsert that touches a row twice), {@link WRITE_CHUNK} per statement.
 */
export async function upsertSessions(
  tx: SqlExecutor,
  userId: string,
  version: number,
  writes: readonly SessionWrite[],
): Promise<void> {
  for (let i = 0; i < writes.length; i += WRITE_CHUNK) {
    const chunk = writes.slice(i, i + WRITE_CHUNK);
    const params: (string | number)[] = [userId, version];
    for (const write of chunk) {
      params.push(
        write.roomId,
        write.sessionId,
        write.firstMessageIndex,
        write.forwardedCount,
        write.isVerified ? 1 : 0,
        write.sessionData,
      );
    }
    await tx.execute(upsertSessionsSql(chunk.length), params);
  }
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
