import type { Migration } from '../migrate.ts';

/**
 * Users erased at deactivation (`erase: true`, spec "POST /account/deactivate"): their non-event
 * data was deleted then (services/accounts/service.ts); the row records that they asked for it,
 * and the stream position at the erasure: those who join a room after it are served the user's
 * events redacted (services/rooms/erased-senders.ts).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE erased_users (
      user_id TEXT PRIMARY KEY,
      erased_ts BIGINT NOT NULL,
      stream_position BIGINT NOT NULL
    )`,
  ],
};
