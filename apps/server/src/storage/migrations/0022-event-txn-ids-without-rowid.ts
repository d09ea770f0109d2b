import type { Migration } from '../migrate.ts';

/**
 * `event_txn_ids` as a `WITHOUT ROWID` table on SQLite: its rows are looked up and kept unique
 * only by their primary key (user, device, transaction ID), and a rowid table stored each row
 * twice — in the table, appended, and in the key's index, wherever the user's key falls — so
 * every send with a transaction ID changed two B-tree pages where one will do. PostgreSQL gets
 * the same table back (the macro is empty there).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE event_txn_ids_by_key (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      txn_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (user_id, device_id, txn_id)
    ) {{without_rowid}}`,
    `INSERT INTO event_txn_ids_by_key (user_id, device_id, txn_id, event_id)
      SELECT user_id, device_id, txn_id, event_id FROM event_txn_ids`,
    'DROP TABLE event_txn_ids',
    'ALTER TABLE event_txn_ids_by_key RENAME TO event_txn_ids',
  ],
};
