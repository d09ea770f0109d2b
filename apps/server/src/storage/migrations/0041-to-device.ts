import type { Migration } from '../migrate.ts';

/**
 * Send-to-device messages waiting for delivery (services/to-device), in arrival order (`id`), and
 * the transaction IDs already used per sending device (idempotent retries).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE to_device_messages (
      id {{serial}},
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      sender TEXT NOT NULL,
      type TEXT NOT NULL,
      content TEXT NOT NULL
    )`,
    'CREATE INDEX to_device_by_device ON to_device_messages (user_id, device_id, id)',
    `CREATE TABLE to_device_txns (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      txn_id TEXT NOT NULL,
      created_ts BIGINT NOT NULL,
      PRIMARY KEY (user_id, device_id, txn_id)
    )`,
  ],
};
