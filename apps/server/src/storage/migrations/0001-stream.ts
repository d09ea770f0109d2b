import type { Migration } from '../migrate.ts';

/** The global stream counter (services/core/stream.ts). */
export const migration: Migration = {
  statements: [
    'CREATE TABLE stream_position (id INTEGER PRIMARY KEY, position BIGINT NOT NULL)',
    'INSERT INTO stream_position (id, position) VALUES (1, 0)',
  ],
};
