import type { Migration } from '../migrate.ts';

/**
 * A local user's membership as state resolution left it at a stream position where their member
 * events alone would say otherwise (spec server-server-api "Room State Resolution"): a received
 * event whose fork resolves their member key to an older event, or their received member event
 * that loses to another fork. `GET /notifications` (services/push/notification-list.ts) and
 * per-event history visibility (services/rooms/event-visibility.ts) read it beside their
 * positioned member events to know when they were joined. New and empty: before it,
 * such changes were recorded nowhere but in `room_memberships` (the current membership only).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE resolved_memberships (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      membership TEXT NOT NULL,
      PRIMARY KEY (user_id, room_id, stream_position)
    ) {{without_rowid}}`,
  ],
};
