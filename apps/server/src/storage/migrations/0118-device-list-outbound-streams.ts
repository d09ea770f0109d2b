import type { Migration } from '../migrate.ts';

/**
 * Each local user's device-list stream ID for federation (spec server-server-api "Device
 * Management"): every `m.device_list_update` EDU about the user takes the next one (its
 * `prev_id` is the one before), and `GET /user/devices` answers the current one.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE device_list_outbound_streams (
      user_id TEXT PRIMARY KEY,
      stream_id BIGINT NOT NULL
    )`,
  ],
};
