/**
 * `GET /notifications` after state resolution changed a local user's membership with no member
 * event of theirs at that position (spec server-server-api "Room State Resolution"): a peer
 * (federation-peer.ts, `m.test`) forks the room, and the list follows the resolved membership.
 * On SQLite in push-notifications.test.ts, on PostgreSQL in push-keys-rooms-postgres.test.ts.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer, TestServerOptions } from './harness.ts';
import { call, createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

/** The tests, with a.test on the database `options` chooses (SQLite by default). */
export function resolvedMembershipSuite(options: () => TestServerOptions = () => ({})): void {
  describe('GET /notifications after state resolution changed a membership', () => {
    let federation: TestFederation;
    let peer: TestPeer;
    let a: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let roomId: string;

    async function stateId(type: string, stateKey = ''): Promise<string> {
      const state = await a.services.rooms.currentState(roomId);
      for (const [key, id] of state) if (key === stateKeyOf(type, stateKey)) return id;
      throw new Error(`no ${type} ${stateKey} in the room`);
    }

    /** The room's forward extremities and depth on a.test: where mallory's events go. */
    async function tip(): Promise<{ extremities: string[]; depth: number }> {
      const db = a.services.ctx.db;
      const rows = await db.query<{ event_id: string }>(
        'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
        [roomId],
      );
      const room = await db.queryOne<{ max_depth: number }>(
        'SELECT max_depth FROM rooms WHERE room_id = $1',
        [roomId],
      );
      return { extremities: rows.map((row) => row.event_id), depth: Number(room?.max_depth) };
    }

    /** Mallory's signed event on `at`, sent to a.test; returns its ID once accepted. */
    async function sendAsMallory(
      at: { extremities: string[]; depth: number },
      fields: { type: string; content: Json; stateKey?: string; authEvents: string[]; ts: number },
    ): Promise<string> {
      const { pdu, eventId } = peer.sign(
        {
          auth_events: fields.authEvents,
          content: fields.content,
          depth: at.depth + 1,
          origin_server_ts: fields.ts,
          prev_events: at.extremities,
          room_id: roomId,
          sender: MALLORY,
          type: fields.type,
          ...(fields.stateKey === undefined ? {} : { state_key: fields.stateKey }),
        },
        ROOM_VERSION,
      );
      const answer = await peer.send('a.test', `t-${eventId}`, [pdu]);
      expect(answer).toEqual({ pdus: { [eventId]: {} } });
      return eventId;
    }

    async function listed(user: TestUser): Promise<string[]> {
      const body = await call(a, user, 'GET', `${V3}/notifications?limit=50`);
      return (body['notifications'] as Json[]).map((n) => n['event']['event_id'] as string);
    }

    beforeAll(async () => {
      ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer, {
        file: options().file ?? {},
      }));
      a = federation.server('a.test');
      alice = await a.client.registerUser('alice');
      bob = await a.client.registerUser('bob');
      roomId = await createRoom(a, alice, [bob], { preset: 'public_chat' });
      await sendAsMallory(await tip(), {
        type: 'm.room.member',
        content: { membership: 'join' },
        stateKey: MALLORY,
        authEvents: [
          await stateId('m.room.create'),
          await stateId('m.room.power_levels'),
          await stateId('m.room.join_rules'),
        ],
        ts: Date.now(),
      });
    }, 60_000);

    afterAll(async () => {
      await federation?.close();
      await peer?.down();
    });

    it('lists what the user missed while kicked in a fork, and again once resolution rejoins them', async () => {
      // Mallory may kick bob and change the power levels (100, as alice).
      const base = `${V3}/rooms/${encodeURIComponent(roomId)}`;
      const levels = await call(a, alice, 'GET', `${base}/state/m.room.power_levels/`);
      await call(a, alice, 'PUT', `${base}/state/m.room.power_levels/`, {
        ...levels,
        users: { [alice.userId]: 100, [MALLORY]: 100 },
      });
      const before = await sendText(a, alice, roomId, 'before the fork');
      const fork = await tip();
      const auth = [
        await stateId('m.room.create'),
        await stateId('m.room.power_levels'),
        await stateId('m.room.member', MALLORY),
      ];
      const bobsJoin = await stateId('m.room.member', bob.userId);
      const now = Date.now();

      // One fork: mallory kicks bob; the room goes on without him.
      await sendAsMallory(fork, {
        type: 'm.room.member',
        content: { membership: 'leave' },
        stateKey: bob.userId,
        authEvents: [...auth, bobsJoin],
        ts: now + 10,
      });
      expect((await a.services.rooms.membership(roomId, bob.userId))?.membership).toBe('leave');
      const whileKicked = await sendText(a, alice, roomId, 'while bob is out');

      // The other fork, from before the kick: mallory gives up her power level, earlier than the
      // kick (spec "Room State Resolution": power events by sender level, then timestamp). The
      // resolution applies it first, so the kick fails its auth check and bob's join stays.
      await sendAsMallory(fork, {
        type: 'm.room.power_levels',
        content: { ...levels, users: { [alice.userId]: 100 } },
        stateKey: '',
        authEvents: auth,
        ts: now + 5,
      });
      expect(await a.services.rooms.membership(roomId, bob.userId)).toMatchObject({
        membership: 'join',
        eventId: bobsJoin,
      });
      const afterMerge = await sendText(a, alice, roomId, 'bob is back');

      // Bob's member events say he left at the kick; his resolved membership says joined again.
      // (Older than `before`: his invite.)
      const list = await listed(bob);
      expect(list.slice(0, 2)).toEqual([afterMerge, before]);
      expect(list).not.toContain(whileKicked);
    }, 60_000);
  });
}
