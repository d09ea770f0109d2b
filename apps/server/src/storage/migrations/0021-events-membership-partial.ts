import type { Migration } from '../migrate.ts';

/**
 * `events_membership` (type, state_key, stream_position; migration 0020) holds state events
 * only, as `events_by_room_state_key` does since 0102. Its readers ask for one user's member
 * events (`type = 'm.room.member' AND state_key = $1`: `membershipChanges`, the notification
 * list's joined stretches), which implies the state key is not NULL, so SQLite and PostgreSQL
 * still use the partial index. A message no longer adds an entry: one B-tree page fewer in each
 * send's COMMIT (and in the checkpoint that copies it).
 */
export const migration: Migration = {
  statements: [
    'DROP INDEX events_membership',
    `CREATE INDEX events_membership ON events (type, state_key, stream_position)
      WHERE state_key IS NOT NULL`,
  ],
};
