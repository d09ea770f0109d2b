import type { Migration } from '../migrate.ts';

/**
 * Read receipts (services/receipts): the latest receipt per room, receipt type, user and thread
 * (`thread_id` is `''` for an unthreaded receipt), with the stream position `/sync` reads them by.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE receipts (
      room_id TEXT NOT NULL,
      receipt_type TEXT NOT NULL,
      user_id TEXT NOT NULL,
      thread_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      ts BIGINT NOT NULL,
      stream_position BIGINT NOT NULL,
      PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
    )`,
    'CREATE INDEX receipts_by_room_position ON receipts (room_id, stream_position)',
  ],
};
