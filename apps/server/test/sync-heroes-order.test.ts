/**
 * `m.heroes` order (sync/store.ts `heroes`): stream order, then user ID where positions tie, as
 * they do for every member of a remote room joined through `send_join` (one position for all).
 * With the membership rows written as that join writes them, on SQLite and on PostgreSQL (whose
 * sort leaves ties in no particular order: the case the tie-break is for).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { heroes } from '../src/services/sync/store.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';

function heroesSuite(options: () => TestServerOptions = () => ({})): void {
  describe('m.heroes', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(options());
    });
    afterAll(async () => {
      await server.stop();
    });

    it('breaks ties of stream position by user ID, present members before those who left', async () => {
      const db = server.services.ctx.db;
      const roomId = '!heroes:remote.example';
      // Inserted out of ID order, so a tie left to the table's order would show.
      const members = ['@zed', '@yan', '@xia', '@dan', '@cat', '@bob', '@amy'];
      for (const [i, local] of members.entries()) {
        await db.execute(
          `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
           VALUES ($1, $2, $3, $4, $5, 0)`,
          [roomId, `${local}:remote.example`, local === '@dan' ? 'leave' : 'join', `$m${i}`, 7],
        );
      }
      expect(await heroes(db, roomId, '@viewer:test')).toEqual(
        ['@amy', '@bob', '@cat', '@xia', '@yan'].map((u) => `${u}:remote.example`),
      );
      // Without present members, those who left, in the same order.
      await db.execute(`UPDATE room_memberships SET membership = 'leave' WHERE room_id = $1`, [
        roomId,
      ]);
      expect(await heroes(db, roomId, '@amy:remote.example')).toEqual(
        ['@bob', '@cat', '@dan', '@xia', '@yan'].map((u) => `${u}:remote.example`),
      );
    });
  });
}

describe('on SQLite', () => {
  heroesSuite();
});

const on = postgresDatabases(['heroes']);
describe('on PostgreSQL', () => {
  heroesSuite(on('heroes'));
});
