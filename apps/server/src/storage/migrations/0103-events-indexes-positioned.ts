import type { Migration } from '../migrate.ts';

/**
 * The three secondary indexes on `events` that lead to a stream position hold only events that
 * have one. An outlier (a joined room's state and auth chain as `send_join` answered them: 30,000
 * rows for a 30,000-member room) or a rejected event has none, and no reader looks for it through
 * these indexes: every query on them compares `stream_position` (`> $1`, `<= $2`) or asks
 * `stream_position IS NOT NULL`, which implies the predicate, so SQLite and PostgreSQL still use
 * them. The two indexes on state keys took entries at random places (state keys are user IDs):
 * 30,000 outlier rows cost 35–36 µs each with them and 17–19 without (node:sqlite, 2 KiB pages,
 * 2,048-row transactions). An event given a position later (persist-remote.ts) gets its entries
 * then.
 */
export const migration: Migration = {
  statements: [
    'DROP INDEX events_by_room_position',
    `CREATE INDEX events_by_room_position ON events (room_id, stream_position)
      WHERE stream_position IS NOT NULL`,
    'DROP INDEX events_membership',
    `CREATE INDEX events_membership ON events (type, state_key, stream_position)
      WHERE state_key IS NOT NULL AND stream_position IS NOT NULL`,
    'DROP INDEX events_by_room_state_key',
    `CREATE INDEX events_by_room_state_key ON events (room_id, type, state_key, stream_position)
      WHERE state_key IS NOT NULL AND stream_position IS NOT NULL`,
  ],
};
