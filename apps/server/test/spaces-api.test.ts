/**
 * Spaces, room summaries and jump to date (spaces-suite.ts) on SQLite, and the index jump to
 * date reads (`events_by_room_ts`, migration 0110) serving its queries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { spacesSuite } from './spaces-suite.ts';

spacesSuite();

describe('events_by_room_ts', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.stop());

  it('is partial and serves both directions of services/rooms/timestamp.ts', async () => {
    const db = server.services.ctx.db;
    const index = await db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_by_room_ts'",
    );
    expect(index?.sql).toMatch(
      /\(room_id, origin_server_ts, stream_position\)\s+WHERE\s+stream_position IS NOT NULL/,
    );
    const plan = async (sql: string) =>
      (await db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ['!r', 5, 3, 9]))
        .map((row) => row.detail)
        .join('\n');
    expect(
      await plan(`SELECT event_id, origin_server_ts, stream_position FROM events
        WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
          AND origin_server_ts >= $2 AND (origin_server_ts > $2 OR stream_position > $3)
        ORDER BY origin_server_ts, stream_position LIMIT 50`),
    ).toContain('events_by_room_ts');
    expect(
      await plan(`SELECT event_id, origin_server_ts, stream_position FROM events
        WHERE room_id = $1 AND stream_position IS NOT NULL AND stream_position <= $4
          AND origin_server_ts <= $2 AND (origin_server_ts < $2 OR stream_position < $3)
        ORDER BY origin_server_ts DESC, stream_position DESC LIMIT 50`),
    ).toContain('events_by_room_ts');
  });
});
