import type { Migration } from '../migrate.ts';

/**
 * The thread of each push action's event (spec client-server-api "Receiving notifications": the
 * server partitions the notification count per thread, the main timeline being its own thread):
 * the thread root's event ID, or `main` (services/relations/thread.ts). Rows stored before count
 * as the main timeline's.
 */
export const migration: Migration = {
  statements: [
    `ALTER TABLE push_room_actions ADD COLUMN thread_id TEXT NOT NULL DEFAULT 'main'`,
    `ALTER TABLE push_user_actions ADD COLUMN thread_id TEXT NOT NULL DEFAULT 'main'`,
  ],
};
