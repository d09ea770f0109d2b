/**
 * `/forget` racing a join, on a real PostgreSQL (test/postgres.ts). The membership check and the
 * `forgotten = 1` write used to be two statements: a join committing in between left the
 * re-joined room marked forgotten. Forced deterministically: another connection holds the
 * member's row, changed to a join, until the forget's write is waiting on its lock, then commits.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

describe('forget racing a join on PostgreSQL', () => {
  const database = `forgetrace_${process.pid}`;
  let postgres: TestPostgres;
  let server: TestServer;
  let url: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    url = await postgres.createDatabase(database);
    server = await startTestServer({
      file: { database: { backend: 'postgres', connection_string: url } },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await postgres?.stop();
  });

  const call = (method: string, path: string, user: RegisteredUser, body?: unknown) =>
    server.client.request(method, `/_matrix/client/v3${path}`, {
      token: user.accessToken,
      ...(body === undefined ? {} : { body }),
    });

  it('never marks a room forgotten that a join re-entered between check and write', async () => {
    const alice = await server.client.registerUser('alice');
    const bob = await server.client.registerUser('bob');
    const created = await call('POST', '/createRoom', alice, { preset: 'public_chat' });
    const roomId = String(created.body['room_id']);
    const room = encodeURIComponent(roomId);
    expect((await call('POST', `/rooms/${room}/join`, bob, {})).status).toBe(200);
    expect((await call('POST', `/rooms/${room}/leave`, bob, {})).status).toBe(200);

    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
    try {
      // A join of bob's, committed only once the forget is under way.
      await other.query('BEGIN');
      await other.query(
        `UPDATE room_memberships SET membership = 'join', forgotten = 0
          WHERE room_id = $1 AND user_id = $2`,
        [roomId, bob.userId],
      );
      const forget = call('POST', `/rooms/${room}/forget`, bob, {});
      let waiting = false;
      for (let i = 0; i < 400 && !waiting; i += 1) {
        const rows = await watcher.query(
          `SELECT 1 FROM pg_stat_activity
            WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE '%forgotten = 1%'`,
          [database],
        );
        waiting = (rows.rowCount ?? 0) > 0;
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(waiting).toBe(true);
      await other.query('COMMIT');

      const answer = await forget;
      expect(answer.status).toBe(400);
      const row = await watcher.query<{ membership: string; forgotten: number }>(
        'SELECT membership, forgotten FROM room_memberships WHERE room_id = $1 AND user_id = $2',
        [roomId, bob.userId],
      );
      expect(row.rows[0]).toMatchObject({ membership: 'join', forgotten: 0 });
    } finally {
      await other.end();
      await watcher.end();
    }
  });
});
