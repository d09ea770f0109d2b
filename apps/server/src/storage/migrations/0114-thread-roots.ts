import type { Migration } from '../migrate.ts';

/**
 * Thread roots by latest activity (services/relations, `GET /threads`; client-server-api
 * "Threading", https://spec.matrix.org/v1.19/client-server-api/#threading): one row per event of
 * a room with at least one `m.thread` child in `event_relations`, with the highest stream
 * position of those children. The relations timeline listener raises `latest_position` as
 * `m.thread` children arrive and recomputes it (or drops the row) when one is redacted; a page
 * of `/threads` is a range of `thread_roots_by_latest`, not a grouping of every reply of the
 * room. `event_relations_thread_senders` answers "did this user reply in this thread" for
 * `include=participated`. Filled here from `event_relations` (migration 0107).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE thread_roots (
      room_id TEXT NOT NULL,
      root_id TEXT NOT NULL,
      latest_position BIGINT NOT NULL,
      PRIMARY KEY (room_id, root_id)
    )`,
    'CREATE INDEX thread_roots_by_latest ON thread_roots (room_id, latest_position)',
    `CREATE INDEX event_relations_thread_senders ON event_relations (relates_to_id, sender)
      WHERE rel_type = 'm.thread'`,
    `INSERT INTO thread_roots (room_id, root_id, latest_position)
      SELECT room_id, relates_to_id, MAX(stream_position) FROM event_relations
       WHERE rel_type = 'm.thread' GROUP BY room_id, relates_to_id`,
  ],
};
