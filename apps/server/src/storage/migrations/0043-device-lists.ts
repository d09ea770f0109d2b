import type { Migration } from '../migrate.ts';

/**
 * Device-list changes (services/device-lists): user X's devices or identity keys changed at
 * stream position P. `/sync` and `/keys/changes` read the users changed between two tokens.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE device_list_changes (
      user_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      PRIMARY KEY (stream_position, user_id)
    )`,
  ],
};
