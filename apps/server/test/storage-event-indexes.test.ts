/**
 * `events_by_room_state_key` holds state events only (migration 0102) and still serves the
 * queries that read one state key's history: a message adds no entry, the per-event history
 * visibility reads seek it — on a real SQLite file migrated from scratch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const plan = async (sql: string): Promise<string> =>
  (
    await server.services.ctx.db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, [
      '!r',
      '@u',
    ])
  )
    .map((row) => row.detail)
    .join('\n');

describe('events_by_room_state_key', () => {
  it('is partial and serves the member and history-visibility reads', async () => {
    const index = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_by_room_state_key'",
    );
    expect(index?.sql).toMatch(/WHERE\s+state_key IS NOT NULL/);
    expect(
      await plan(`SELECT stream_position, pdu FROM events
        WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2
          AND stream_position IS NOT NULL ORDER BY stream_position`),
    ).toContain('events_by_room_state_key');
    expect(
      await plan(`SELECT stream_position, pdu FROM events
        WHERE room_id = $1 AND type = 'm.room.history_visibility' AND state_key = ''
          AND stream_position IS NOT NULL AND $2 = $2 ORDER BY stream_position`),
    ).toContain('events_by_room_state_key');
  });
});
