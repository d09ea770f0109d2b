/**
 * Storage of the media service: the bytes as files under `<data-dir>/media/<2 chars>/<media ID>`
 * (written to a temporary file, fsynced, then renamed, so a file that exists is whole) and a
 * `media` row per upload with its content type, file name, size and SHA-256.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { SqlExecutor } from '../../storage/index.ts';

export type MediaRow = {
  readonly media_id: string;
  readonly user_id: string;
  readonly content_type: string;
  readonly filename: string | null;
  readonly size: number;
};

/** The path of a media file; `mediaId` is already checked to be `[A-Za-z0-9_-]+`. */
export function mediaPath(root: string, mediaId: string): string {
  return join(root, mediaId.slice(0, 2), mediaId);
}

/**
 * Writes `bytes` durably to a temporary file of its own beside the media's path (unique, so
 * concurrent writers of one media ID never share it); returns its path for {@link placeMediaFile}.
 */
export async function writeMediaTemp(
  root: string,
  mediaId: string,
  bytes: Uint8Array,
): Promise<string> {
  await mkdir(join(root, mediaId.slice(0, 2)), { recursive: true });
  const temp = `${mediaPath(root, mediaId)}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return temp;
}

/** Renames a {@link writeMediaTemp} file to the media's path, then fsyncs the directory. */
export async function placeMediaFile(root: string, temp: string, mediaId: string): Promise<void> {
  try {
    await rename(temp, mediaPath(root, mediaId));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // The rename itself is durable only once the directory entry is on disk.
  const directory = await open(join(root, mediaId.slice(0, 2)), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** Writes `bytes` durably at the media's path: temp file → fsync → rename → fsync directory. */
export async function writeMediaFile(root: string, mediaId: string, bytes: Uint8Array) {
  await placeMediaFile(root, await writeMediaTemp(root, mediaId, bytes), mediaId);
}

/** Deletes a temporary file of {@link writeMediaTemp} (missing is fine). */
export async function removeMediaTemp(temp: string): Promise<void> {
  await rm(temp, { force: true });
}

/** Deletes a media file (missing is fine). */
export async function removeMediaFile(root: string, mediaId: string): Promise<void> {
  await rm(mediaPath(root, mediaId), { force: true });
}

export function readMediaFile(root: string, mediaId: string): Promise<Buffer> {
  return readFile(mediaPath(root, mediaId));
}

export async function insertMedia(
  tx: SqlExecutor,
  row: MediaRow & { readonly sha256: string; readonly created_ts: number },
): Promise<void> {
  await tx.execute(
    `INSERT INTO media (media_id, user_id, content_type, filename, size, sha256, created_ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      row.media_id,
      row.user_id,
      row.content_type,
      row.filename,
      row.size,
      row.sha256,
      row.created_ts,
    ],
  );
}

export function selectMedia(db: SqlExecutor, mediaId: string): Promise<MediaRow | undefined> {
  return db.queryOne<MediaRow>(
    'SELECT media_id, user_id, content_type, filename, size FROM media WHERE media_id = $1',
    [mediaId],
  );
}

export type RemoteMediaRow = {
  readonly file_id: string;
  readonly content_type: string;
  readonly filename: string | null;
};

/** A cached remote file and when it was last served (ms; updated coarsely, see service.ts). */
export async function selectRemoteMedia(
  db: SqlExecutor,
  serverName: string,
  mediaId: string,
): Promise<(RemoteMediaRow & { readonly last_access_ts: number }) | undefined> {
  const row = await db.queryOne<RemoteMediaRow & { last_access_ts: number | string }>(
    `SELECT file_id, content_type, filename, last_access_ts FROM remote_media
     WHERE server_name = $1 AND media_id = $2`,
    [serverName, mediaId],
  );
  return row === undefined ? undefined : { ...row, last_access_ts: Number(row.last_access_ts) };
}

/** Records that the cached file `fileId` was served at `now`. */
export async function touchRemoteMedia(
  db: SqlExecutor,
  fileId: string,
  now: number,
): Promise<void> {
  await db.execute('UPDATE remote_media SET last_access_ts = $1 WHERE file_id = $2', [now, fileId]);
}

/** Forgets the cached remote file `fileId` (its file is gone), so it can be fetched again. */
export async function deleteRemoteMedia(db: SqlExecutor, fileId: string): Promise<void> {
  await db.execute('DELETE FROM remote_media WHERE file_id = $1', [fileId]);
}

/**
 * Deletes up to `limit` cached remote files last served before `cutoff` (oldest first) and
 * returns their file IDs: the caller removes the files once the rows are gone, so a download
 * reads either the whole file or no row (and fetches it again).
 */
export async function deleteExpiredRemoteMedia(
  db: SqlExecutor,
  cutoff: number,
  limit: number,
): Promise<string[]> {
  const rows = await db.query<{ file_id: string }>(
    `DELETE FROM remote_media
     WHERE last_access_ts < $1 AND file_id IN (
       SELECT file_id FROM remote_media WHERE last_access_ts < $1
       ORDER BY last_access_ts LIMIT $2)
     RETURNING file_id`,
    [cutoff, limit],
  );
  return rows.map((row) => row.file_id);
}

export async function insertRemoteMedia(
  tx: SqlExecutor,
  row: RemoteMediaRow & {
    readonly server_name: string;
    readonly media_id: string;
    readonly size: number;
    readonly sha256: string;
    readonly created_ts: number;
  },
): Promise<void> {
  await tx.execute(
    `INSERT INTO remote_media (server_name, media_id, file_id, content_type, filename, size,
       sha256, created_ts, last_access_ts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
    [
      row.server_name,
      row.media_id,
      row.file_id,
      row.content_type,
      row.filename,
      row.size,
      row.sha256,
      row.created_ts,
    ],
  );
}

/** A created `mxc://` URI (`POST /_matrix/media/v1/create`) whose content is not uploaded yet. */
export type PendingMediaRow = { readonly user_id: string; readonly expires_ts: number };

export async function insertPendingMedia(
  tx: SqlExecutor,
  mediaId: string,
  userId: string,
  expiresTs: number,
): Promise<void> {
  await tx.execute(
    'INSERT INTO media_pending (media_id, user_id, expires_ts) VALUES ($1, $2, $3)',
    [mediaId, userId, expiresTs],
  );
}

export async function selectPendingMedia(
  db: SqlExecutor,
  mediaId: string,
): Promise<PendingMediaRow | undefined> {
  const row = await db.queryOne<{ user_id: string; expires_ts: number | string }>(
    'SELECT user_id, expires_ts FROM media_pending WHERE media_id = $1',
    [mediaId],
  );
  return row === undefined
    ? undefined
    : { user_id: row.user_id, expires_ts: Number(row.expires_ts) };
}

/** How many created URIs of `userId` are still pending at `now`. */
export async function countPendingMedia(
  db: SqlExecutor,
  userId: string,
  now: number,
): Promise<number> {
  const row = await db.queryOne<{ n: number | string }>(
    'SELECT COUNT(*) AS n FROM media_pending WHERE user_id = $1 AND expires_ts > $2',
    [userId, now],
  );
  return Number(row?.n ?? 0);
}

/** Forgets the expired pending URIs of `userId` (housekeeping at each create). */
export async function deleteExpiredPendingMedia(
  tx: SqlExecutor,
  userId: string,
  now: number,
): Promise<void> {
  await tx.execute('DELETE FROM media_pending WHERE user_id = $1 AND expires_ts <= $2', [
    userId,
    now,
  ]);
}

export async function deletePendingMedia(tx: SqlExecutor, mediaId: string): Promise<number> {
  return tx.execute('DELETE FROM media_pending WHERE media_id = $1', [mediaId]);
}
