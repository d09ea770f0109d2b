import type { Migration } from '../migrate.ts';

/**
 * Pushers (services/pushers, client-server-api "Push Notifications",
 * https://spec.matrix.org/v1.19/client-server-api/#push-notifications): one row per user and
 * (`app_id`, `pushkey`), belonging to the device whose access token set it (deleted with the
 * device). `data` is the client's `PusherData` as JSON, `url` included; `pushkey_ts` is when the
 * pusher was last set, in milliseconds. The index by (`app_id`, `pushkey`) serves `append: false`,
 * which removes the other users' pushers of the same key.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE pushers (
      user_id TEXT NOT NULL,
      app_id TEXT NOT NULL,
      pushkey TEXT NOT NULL,
      device_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      app_display_name TEXT NOT NULL,
      device_display_name TEXT NOT NULL,
      profile_tag TEXT,
      lang TEXT NOT NULL,
      data TEXT NOT NULL,
      pushkey_ts BIGINT NOT NULL,
      PRIMARY KEY (user_id, app_id, pushkey)
    ) {{without_rowid}}`,
    'CREATE INDEX pushers_by_key ON pushers (app_id, pushkey)',
  ],
};
