import type { Migration } from '../migrate.ts';

/**
 * Users erased at deactivation (`erase: true`, spec "POST /account/deactivate"): their non-event
 * data was deleted then (services/accounts/service.ts); the row records that they asked for it.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE erased_users (
      user_id TEXT PRIMARY KEY,
      erased_ts BIGINT NOT NULL
    )`,
  ],
};
