import type { Migration } from '../migrate.ts';

/**
 * When each cached file of another server was last served (services/media, `last_access_ts`,
 * updated at most once per hour per file): the retention sweep deletes the rows (and files) not
 * served for `media.remote_media_lifetime`, oldest first through the index. Files cached before
 * this migration count as last served when they were fetched.
 */
export const migration: Migration = {
  statements: [
    'ALTER TABLE remote_media ADD COLUMN last_access_ts BIGINT NOT NULL DEFAULT 0',
    'UPDATE remote_media SET last_access_ts = created_ts',
    'CREATE INDEX remote_media_by_access ON remote_media (last_access_ts)',
  ],
};
