/**
 * Deleting an alias races its re-creation, on both backends: the alias is read (and the caller's
 * right to delete it checked) before the DELETE. If another user deletes and re-creates it for
 * their own room in between, the DELETE must not remove their alias. Forced deterministically by
 * running the re-creation just before the server's DELETE statement reaches the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/storage/index.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

let postgres: TestPostgres | undefined;
afterAll(async () => {
  await postgres?.stop();
});

describe.each(['sqlite', 'postgres'] as const)(
  'alias deletion racing re-creation on %s',
  (backend) => {
    let server: TestServer;

    beforeAll(async () => {
      let options: TestServerOptions = {};
      if (backend === 'postgres') {
        postgres = await startPostgres();
        const url = await postgres.createDatabase(`aliasrace_${process.pid}`);
        options = { file: { database: { backend: 'postgres', connection_string: url } } };
      }
      server = await startTestServer(options);
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });

    it("never deletes an alias re-created by someone else after the caller's check", async () => {
      const { client } = server;
      const alice = await client.registerUser('alice');
      const bob = await client.registerUser('bob');
      const createRoom = async (token: string) =>
        String(
          (await client.request('POST', '/_matrix/client/v3/createRoom', { token, body: {} })).body[
            'room_id'
          ],
        );
      const aliceRoom = await createRoom(alice.accessToken);
      const bobRoom = await createRoom(bob.accessToken);
      const alias = '#race:test.local';
      const path = `/_matrix/client/v3/directory/room/${encodeURIComponent(alias)}`;
      const put = await client.request('PUT', path, {
        token: alice.accessToken,
        body: { room_id: aliceRoom },
      });
      expect(put.status).toBe(200);

      // Between alice's read of the alias and her DELETE: it goes, and bob takes it.
      const db = server.services.ctx.db as { -readonly [K in keyof Database]: Database[K] };
      const execute = db.execute.bind(db);
      let raced = false;
      db.execute = async (sql, params) => {
        if (!raced && sql.startsWith('DELETE FROM room_aliases')) {
          raced = true;
          await execute('DELETE FROM room_aliases WHERE room_alias = $1', [alias]);
          await execute(
            'INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)',
            [alias, bobRoom, bob.userId],
          );
        }
        return execute(sql, params);
      };
      try {
        const deleted = await client.request('DELETE', path, { token: alice.accessToken });
        expect(raced).toBe(true);
        expect(deleted.status).toBe(404);
      } finally {
        db.execute = execute;
      }
      const resolved = await client.request('GET', path, { token: bob.accessToken });
      expect(resolved.status).toBe(200);
      expect(resolved.body['room_id']).toBe(bobRoom);
    });
  },
);
