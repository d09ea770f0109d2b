import type { Migration } from '../migrate.ts';

/**
 * Push-rule results stored by room instead of by user (services/push; decision record
 * 2026-11-29 10:00 in ARCHITECTURE.md). A COMMIT costs one WAL frame per page it changed, and
 * `event_push_actions` (migrations 0050, 0053) put one row per notified member of an event into
 * each member's own leaf page of four user-leading B-trees: ≈ 30 pages per message in a room of
 * ten. Now:
 *
 * - `push_room_actions`: one row per event, the decision shared by its audience — the local
 *   members joined when it was stored, but its sender — in the room's stretch of a table kept in
 *   (room, position) order, so an event writes one page;
 * - `push_user_actions`: a user's own decision where it differs from the shared one (a mention,
 *   a muted room: notify and highlight 0 there) or where the user is not in the audience (an
 *   invitee). Every old row is carried over as such a row, so the counts and `GET
 *   /notifications` read the same after the migration;
 * - `unread_counts` (migration 0100) keyed (room, user), so an event's increments of its members'
 *   counts share a page too.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE push_room_actions (
      room_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      event_id TEXT NOT NULL,
      sender TEXT NOT NULL,
      notify INTEGER NOT NULL,
      highlight INTEGER NOT NULL,
      actions_json TEXT NOT NULL,
      ts BIGINT NOT NULL,
      PRIMARY KEY (room_id, stream_position)
    ) {{without_rowid}}`,
    // `GET /notifications?only=highlight` without reading every shared row of a room.
    `CREATE INDEX push_room_actions_highlights ON push_room_actions (room_id, stream_position)
      WHERE highlight = 1`,
    `CREATE TABLE push_user_actions (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      event_id TEXT NOT NULL,
      notify INTEGER NOT NULL,
      highlight INTEGER NOT NULL,
      actions_json TEXT NOT NULL,
      ts BIGINT NOT NULL,
      PRIMARY KEY (user_id, room_id, stream_position)
    ) {{without_rowid}}`,
    // A redaction drops the redacted event's rows of every user.
    'CREATE INDEX push_user_actions_by_event ON push_user_actions (room_id, stream_position)',
    `INSERT INTO push_user_actions
       (user_id, room_id, stream_position, event_id, notify, highlight, actions_json, ts)
     SELECT user_id, room_id, stream_position, event_id, notify, highlight, actions_json, ts
       FROM event_push_actions`,
    'DROP TABLE event_push_actions',
    `CREATE TABLE unread_counts_by_room (
      room_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      notifications BIGINT NOT NULL,
      highlights BIGINT NOT NULL,
      stream_position BIGINT NOT NULL,
      PRIMARY KEY (room_id, user_id)
    ) {{without_rowid}}`,
    `INSERT INTO unread_counts_by_room
       (room_id, user_id, notifications, highlights, stream_position)
     SELECT room_id, user_id, notifications, highlights, stream_position FROM unread_counts`,
    'DROP TABLE unread_counts',
    'ALTER TABLE unread_counts_by_room RENAME TO unread_counts',
  ],
};
