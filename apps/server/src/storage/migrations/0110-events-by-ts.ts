import type { Migration } from '../migrate.ts';

/**
 * Jump to date (services/rooms/timestamp.ts, client-server-api `GET
 * /rooms/{roomId}/timestamp_to_event` and the federation endpoint of the same name): a room's
 * timeline events by `origin_server_ts`, ties in stream order, read from a timestamp forwards or
 * backwards. Partial like the other indexes that lead to a stream position (migration 0103):
 * outliers and rejected events are never looked up by time, and every query on it asks
 * `stream_position IS NOT NULL`.
 */
export const migration: Migration = {
  statements: [
    `CREATE INDEX events_by_room_ts ON events (room_id, origin_server_ts, stream_position)
      WHERE stream_position IS NOT NULL`,
  ],
};
