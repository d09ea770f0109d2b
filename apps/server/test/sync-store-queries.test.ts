/**
 * Queries of sync/store.ts on rows written as the server writes them, on SQLite and on
 * PostgreSQL: `m.heroes` order (stream order, then user ID where positions tie, as they do for
 * every member of a remote room joined through `send_join`; PostgreSQL's sort leaves ties in no
 * particular order, the case the tie-break is for), and a membership as of a token where state
 * resolution decided otherwise than the latest member event (`resolved_memberships`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { heroes, membershipStateAt } from '../src/services/sync/store.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';

function storeQueriesSuite(options: () => TestServerOptions = () => ({})): void {
  describe('sync store queries', () => {
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

    it('reads a membership as of a position, a resolved membership winning over older events', async () => {
      const db = server.services.ctx.db;
      const roomId = '!resolved:remote.example';
      const userId = '@local:test';
      const member = async (position: number, membership: string) =>
        db.execute(
          `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
             origin_server_ts, pdu)
           VALUES ($1, $2, $3, 1, 'm.room.member', $4, $4, 0, $5)`,
          [
            `$member${position}`,
            roomId,
            900_000 + position,
            userId,
            JSON.stringify({ type: 'm.room.member', content: { membership } }),
          ],
        );
      await member(5, 'join');
      // A remote leave lost state resolution at 8 (the resolver kept the join): still joined.
      await member(8, 'leave');
      await db.execute(
        `INSERT INTO resolved_memberships (user_id, room_id, stream_position, membership)
         VALUES ($1, $2, $3, 'join')`,
        [userId, roomId, 900_008],
      );
      // Resolution of a later event (no member event of the user there) left them out at 12.
      await db.execute(
        `INSERT INTO resolved_memberships (user_id, room_id, stream_position, membership)
         VALUES ($1, $2, $3, 'leave')`,
        [userId, roomId, 900_012],
      );
      await member(15, 'join');
      const at = (position: number) => membershipStateAt(db, roomId, userId, 900_000 + position);
      expect(await at(4)).toBeUndefined();
      expect(await at(5)).toBe('join');
      expect(await at(8)).toBe('join');
      expect(await at(11)).toBe('join');
      expect(await at(12)).toBe('leave');
      expect(await at(14)).toBe('leave');
      expect(await at(15)).toBe('join');
    });
  });
}

describe('on SQLite', () => {
  storeQueriesSuite();
});

const on = postgresDatabases(['syncstore']);
describe('on PostgreSQL', () => {
  storeQueriesSuite(on('syncstore'));
});
