import type { Migration } from '../migrate.ts';

/** Users, their devices and access tokens (services/accounts). Tokens are stored hashed. */
export const migration: Migration = {
  statements: [
    `CREATE TABLE users (
      user_id TEXT PRIMARY KEY,
      password_hash TEXT,
      created_ts BIGINT NOT NULL,
      deactivated INTEGER NOT NULL DEFAULT 0
    )`,
    `CREATE TABLE devices (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      display_name TEXT,
      last_seen_ts BIGINT,
      last_seen_ip TEXT,
      PRIMARY KEY (user_id, device_id)
    )`,
    `CREATE TABLE access_tokens (
      token_hash TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      created_ts BIGINT NOT NULL
    )`,
    'CREATE INDEX access_tokens_by_device ON access_tokens (user_id, device_id)',
  ],
};
