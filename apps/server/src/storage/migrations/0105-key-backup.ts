import type { Migration } from '../migrate.ts';

/**
 * Server-side key backups (services/key-backup, client-server-api "Server-side key backups",
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups): each user's backup
 * versions, numbered per user from 1, and the session keys stored in them. A deleted version
 * keeps its row (`deleted` 1, no keys), so deleting it again succeeds and its number is never
 * handed out again. `etag` counts the changes of the version's keys; `key_count` is the number
 * of keys it holds, kept in step with `key_backup_sessions` by the transaction that changes them.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE key_backup_versions (
      user_id TEXT NOT NULL,
      version BIGINT NOT NULL,
      algorithm TEXT NOT NULL,
      auth_data TEXT NOT NULL,
      etag BIGINT NOT NULL,
      key_count BIGINT NOT NULL,
      deleted INTEGER NOT NULL,
      PRIMARY KEY (user_id, version)
    ) {{without_rowid}}`,
    `CREATE TABLE key_backup_sessions (
      user_id TEXT NOT NULL,
      version BIGINT NOT NULL,
      room_id TEXT NOT NULL,
      session_id TEXT NOT NULL,
      first_message_index BIGINT NOT NULL,
      forwarded_count BIGINT NOT NULL,
      is_verified INTEGER NOT NULL,
      session_data TEXT NOT NULL,
      PRIMARY KEY (user_id, version, room_id, session_id)
    ) {{without_rowid}}`,
  ],
};
