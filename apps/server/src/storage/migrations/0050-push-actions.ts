import type { Migration } from '../migrate.ts';

/**
 * Push-rule results (services/push): one row per event that notifies or highlights a local
 * user. A room's unread counts are its rows after the user's latest read receipt, so a receipt
 * resets them without a write here, and `GET /notifications` lists the same rows.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE event_push_actions (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      notify INTEGER NOT NULL,
      highlight INTEGER NOT NULL,
      actions_json TEXT NOT NULL,
      ts BIGINT NOT NULL,
      PRIMARY KEY (user_id, event_id)
    )`,
    'CREATE INDEX event_push_actions_by_room ON event_push_actions (user_id, room_id, stream_position)',
    'CREATE INDEX event_push_actions_by_user ON event_push_actions (user_id, stream_position)',
  ],
};
