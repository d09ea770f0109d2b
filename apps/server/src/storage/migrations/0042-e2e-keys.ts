import type { Migration } from '../migrate.ts';

/**
 * End-to-end keys (services/e2e-keys): each device's signed identity keys, its unclaimed
 * one-time keys (handed out in upload order, `id`), and one fallback key per algorithm with
 * whether a claim has used it.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE e2e_device_keys (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      key_json TEXT NOT NULL,
      PRIMARY KEY (user_id, device_id)
    )`,
    `CREATE TABLE e2e_one_time_keys (
      id {{serial}},
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      algorithm TEXT NOT NULL,
      key_id TEXT NOT NULL,
      key_json TEXT NOT NULL
    )`,
    'CREATE UNIQUE INDEX e2e_one_time_keys_by_key ON e2e_one_time_keys (user_id, device_id, algorithm, key_id)',
    'CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, id)',
    `CREATE TABLE e2e_fallback_keys (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      algorithm TEXT NOT NULL,
      key_id TEXT NOT NULL,
      key_json TEXT NOT NULL,
      used INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (user_id, device_id, algorithm)
    )`,
  ],
};
