import type { Migration } from '../migrate.ts';

/**
 * Unread counts kept per (user, room) (services/push): the push-action insert adds to them, a
 * read receipt, the user's join or a redaction recomputes them from `event_push_actions`, each
 * in the transaction of that write. `stream_position` is the position of the last change, so
 * `/sync` can tell whether the row is the count as of the position it answers for. Filled here
 * from the rows after each user's read receipt (or join), as `/sync` counted them before, as of
 * the current position (no sync answers for an earlier one after this runs at start).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE unread_counts (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      notifications BIGINT NOT NULL,
      highlights BIGINT NOT NULL,
      stream_position BIGINT NOT NULL,
      PRIMARY KEY (user_id, room_id)
    )`,
    `INSERT INTO unread_counts (user_id, room_id, notifications, highlights, stream_position)
     SELECT a.user_id, a.room_id, SUM(a.notify), SUM(a.highlight),
            (SELECT position FROM stream_position WHERE id = 1)
       FROM event_push_actions a
      WHERE a.stream_position > (SELECT MAX(read_up_to.p) FROM (
          SELECT e.stream_position AS p FROM receipts r JOIN events e ON e.event_id = r.event_id
           WHERE r.room_id = a.room_id AND r.user_id = a.user_id
             AND r.receipt_type IN ('m.read', 'm.read.private') AND r.thread_id IN ('', 'main')
          UNION ALL
          SELECT m.stream_position AS p FROM room_memberships m
           WHERE m.room_id = a.room_id AND m.user_id = a.user_id AND m.membership = 'join'
          UNION ALL SELECT 0 AS p) read_up_to)
      GROUP BY a.user_id, a.room_id`,
  ],
};
