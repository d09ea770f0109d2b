import type { Migration } from '../migrate.ts';

/**
 * `room_forward_extremities` as a `WITHOUT ROWID` table on SQLite: it is only ever read and
 * written by its primary key (room, event), and every local send replaces its room's extremity
 * (an UPDATE of the key), which in a rowid table changed two B-tree pages — the row and the
 * key's index — where one will do (WAL frames of a lone send: 15 → 14). PostgreSQL gets the same
 * table back (the macro is empty there).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE room_forward_extremities_by_key (
      room_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (room_id, event_id)
    ) {{without_rowid}}`,
    `INSERT INTO room_forward_extremities_by_key (room_id, event_id)
      SELECT room_id, event_id FROM room_forward_extremities`,
    'DROP TABLE room_forward_extremities',
    'ALTER TABLE room_forward_extremities_by_key RENAME TO room_forward_extremities',
  ],
};
