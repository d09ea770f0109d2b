import type { Migration } from '../migrate.ts';

/**
 * Media across servers and asynchronous uploads (services/media, client-server-api "Content
 * repository", https://spec.matrix.org/v1.19/client-server-api/#content-repository):
 * `remote_media` holds the files fetched from other servers (keyed by their server name and
 * media ID; the bytes under `<data-dir>/media/` by `file_id`), `media_pending` the `mxc://` URIs
 * handed out by `POST /_matrix/media/v1/create` whose content was not uploaded yet.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE remote_media (
      server_name TEXT NOT NULL,
      media_id TEXT NOT NULL,
      file_id TEXT NOT NULL,
      content_type TEXT NOT NULL,
      filename TEXT,
      size BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      created_ts BIGINT NOT NULL,
      PRIMARY KEY (server_name, media_id)
    )`,
    `CREATE TABLE media_pending (
      media_id TEXT NOT NULL PRIMARY KEY,
      user_id TEXT NOT NULL,
      expires_ts BIGINT NOT NULL
    )`,
    'CREATE INDEX media_pending_by_user ON media_pending (user_id, expires_ts)',
  ],
};
