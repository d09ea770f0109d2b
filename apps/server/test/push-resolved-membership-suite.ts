/**
 * `GET /notifications` and per-event history visibility (`/messages`, `/event`) after state
 * resolution changed a local user's membership with no member event of theirs at that position
 * (spec server-server-api "Room State Resolution"; client-server-api "History visibility": the
 * membership at each event decides): a peer (federation-peer.ts, `m.test`) forks the room, and
 * both follow the resolved membership. On SQLite in push-notifications.test.ts, on PostgreSQL in
 * push-keys-rooms-postgres.test.ts.
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
  describe('notifications and history visibility after state resolution changed a membership', () => {
    let federation: TestFederation;
    let peer: TestPeer;
    let a: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;

    async function stateId(room: string, type: string, stateKey = ''): Promise<string> {
      const state = await a.services.rooms.currentState(room);
      for (const [key, id] of state) if (key === stateKeyOf(type, stateKey)) return id;
      throw new Error(`no ${type} ${stateKey} in the room`);
    }

    /** `room`'s forward extremities and depth on a.test: where mallory's events go. */
    async function tip(room: string): Promise<{ extremities: string[]; depth: number }> {
      const db = a.services.ctx.db;
      const rows = await db.query<{ event_id: string }>(
        'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
        [room],
      );
      const depth = await db.queryOne<{ max_depth: number }>(
        'SELECT max_depth FROM rooms WHERE room_id = $1',
        [room],
      );
      return { extremities: rows.map((row) => row.event_id), depth: Number(depth?.max_depth) };
    }

    /** Mallory's signed event on `at`, sent to a.test; returns its ID once accepted. */
    async function sendAsMallory(
      room: string,
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
          room_id: room,
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
    /** The event IDs `user` sees in the room's newest 50 (`/messages`, per-event visibility). */
    async function timeline(user: TestUser, room: string): Promise<string[]> {
      const path = `${V3}/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=50`;
      const body = await call(a, user, 'GET', path);
      return (body['chunk'] as Json[]).map((event) => event['event_id'] as string);
    }

    /**
     * A public room of alice's with bob and carol in it (carol stays: the events bob misses are
     * stored for her, so the notification list has rows to leave out for him), whose history only joined members see (`joined`:
     * the membership at each event decides), and mallory joined over federation with alice's
     * power level (100: she may kick bob and change the power levels and join rules).
     */
    async function forkableRoom(): Promise<{ room: string; levels: Json }> {
      const room = await createRoom(a, alice, [bob, carol], {
        preset: 'public_chat',
        initial_state: [
          {
            type: 'm.room.history_visibility',
            state_key: '',
            content: { history_visibility: 'joined' },
          },
        ],
      });
      await sendAsMallory(room, await tip(room), {
        type: 'm.room.member',
        content: { membership: 'join' },
        stateKey: MALLORY,
        authEvents: [
          await stateId(room, 'm.room.create'),
          await stateId(room, 'm.room.power_levels'),
          await stateId(room, 'm.room.join_rules'),
        ],
        ts: Date.now(),
      });
      const base = `${V3}/rooms/${encodeURIComponent(room)}`;
      const levels = await call(a, alice, 'GET', `${base}/state/m.room.power_levels/`);
      await call(a, alice, 'PUT', `${base}/state/m.room.power_levels/`, {
        ...levels,
        users: { [alice.userId]: 100, [MALLORY]: 100 },
      });
      return { room, levels };
    }

    /** The auth events of mallory's power events in `room`. */
    async function mallorysAuth(room: string): Promise<string[]> {
      return [
        await stateId(room, 'm.room.create'),
        await stateId(room, 'm.room.power_levels'),
        await stateId(room, 'm.room.member', MALLORY),
      ];
    }

    beforeAll(async () => {
      ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer, {
        file: options().file ?? {},
      }));
      a = federation.server('a.test');
      alice = await a.client.registerUser('alice');
      bob = await a.client.registerUser('bob');
      carol = await a.client.registerUser('carol');
    }, 60_000);

    afterAll(async () => {
      await federation?.close();
      await peer?.down();
    });

    it('lists and shows what the user missed while kicked in a fork, and again once resolution rejoins them', async () => {
      const { room, levels } = await forkableRoom();
      const before = await sendText(a, alice, room, 'before the fork');
      const fork = await tip(room);
      const auth = await mallorysAuth(room);
      const bobsJoin = await stateId(room, 'm.room.member', bob.userId);
      const now = Date.now();

      // One fork: mallory kicks bob; the room goes on without him.
      await sendAsMallory(room, fork, {
        type: 'm.room.member',
        content: { membership: 'leave' },
        stateKey: bob.userId,
        authEvents: [...auth, bobsJoin],
        ts: now + 10,
      });
      expect((await a.services.rooms.membership(room, bob.userId))?.membership).toBe('leave');
      const whileKicked = await sendText(a, alice, room, 'while bob is out');

      // The other fork, from before the kick: mallory gives up her power level, earlier than the
      // kick (spec "Room State Resolution": power events by sender level, then timestamp). The
      // resolution applies it first, so the kick fails its auth check and bob's join stays.
      await sendAsMallory(room, fork, {
        type: 'm.room.power_levels',
        content: { ...levels, users: { [alice.userId]: 100 } },
        stateKey: '',
        authEvents: auth,
        ts: now + 5,
      });
      expect(await a.services.rooms.membership(room, bob.userId)).toMatchObject({
        membership: 'join',
        eventId: bobsJoin,
      });
      const afterMerge = await sendText(a, alice, room, 'bob is back');

      // Bob's member events say he left at the kick; his resolved membership says joined again.
      // (Older than `before`: his invite.)
      const list = await listed(bob);
      expect(list.slice(0, 2)).toEqual([afterMerge, before]);
      expect(list).not.toContain(whileKicked);
      // The same membership decides what `joined` history he sees: the page reaches back past
      // his return, so each event is judged on his membership at it.
      const seen = await timeline(bob, room);
      expect(seen).toEqual(expect.arrayContaining([afterMerge, before]));
      expect(seen).not.toContain(whileKicked);
    }, 60_000);

    it('neither lists nor shows what happened while a winning fork kept the user kicked', async () => {
      const { room } = await forkableRoom();
      const auth = await mallorysAuth(room);
      const bobsJoin = await stateId(room, 'm.room.member', bob.userId);
      await sendAsMallory(room, await tip(room), {
        type: 'm.room.member',
        content: { membership: 'leave' },
        stateKey: bob.userId,
        authEvents: [...auth, bobsJoin],
        ts: Date.now(),
      });
      const kick = await stateId(room, 'm.room.member', bob.userId);
      const fork = await tip(room);

      // One fork: bob rejoins (the room is public) and is joined when alice writes.
      const base = `${V3}/rooms/${encodeURIComponent(room)}`;
      await call(a, bob, 'POST', `${V3}/join/${encodeURIComponent(room)}`, {});
      const whileBack = await sendText(a, alice, room, 'bob is back for a while');

      // The other fork, from the kick: mallory makes the room invite-only. The resolution
      // applies that power event before bob's join (a non-power event), which then fails its
      // auth check: bob's membership resolves to the kick, an older member event of his, at the
      // position of the join rules, where no member event of his says so.
      await sendAsMallory(room, fork, {
        type: 'm.room.join_rules',
        content: { join_rule: 'invite' },
        stateKey: '',
        authEvents: auth,
        ts: Date.now(),
      });
      expect(await a.services.rooms.membership(room, bob.userId)).toMatchObject({
        membership: 'leave',
        eventId: kick,
      });
      const whileOut = await sendText(a, alice, room, 'bob is out again');

      // Bob comes back by invite; what was said while he was out stays hidden from him.
      await call(a, alice, 'POST', `${base}/invite`, { user_id: bob.userId });
      await call(a, bob, 'POST', `${V3}/join/${encodeURIComponent(room)}`, {});
      const afterInvite = await sendText(a, alice, room, 'bob is back for good');

      const seen = await timeline(bob, room);
      expect(seen).toEqual(expect.arrayContaining([afterInvite, whileBack]));
      expect(seen).not.toContain(whileOut);
      await call(a, bob, 'GET', `${base}/event/${encodeURIComponent(whileBack)}`);
      await call(a, bob, 'GET', `${base}/event/${encodeURIComponent(whileOut)}`, undefined, 404);

      const list = await listed(bob);
      expect(list).toEqual(expect.arrayContaining([afterInvite, whileBack]));
      expect(list).not.toContain(whileOut);
    }, 60_000);

    it('lists and shows what follows a kick from a losing fork that arrived after the kept rejoin', async () => {
      const { room } = await forkableRoom();
      const auth = await mallorysAuth(room);
      const bobsJoin = await stateId(room, 'm.room.member', bob.userId);
      const fork = await tip(room);

      // One fork: bob leaves and rejoins (the room is public); his rejoin is the current state.
      await call(a, bob, 'POST', `${V3}/rooms/${encodeURIComponent(room)}/leave`, {});
      await call(a, bob, 'POST', `${V3}/join/${encodeURIComponent(room)}`, {});
      const rejoin = await stateId(room, 'm.room.member', bob.userId);

      // The other fork, from before he left: mallory kicks him. The resolution applies the kick
      // (a power event) first and his rejoin after it, which passes its auth check: the rejoin
      // stays the current state, and the kick, accepted at its own position, lost. Bob's member
      // events alone would say he left there.
      const kick = await sendAsMallory(room, fork, {
        type: 'm.room.member',
        content: { membership: 'leave' },
        stateKey: bob.userId,
        authEvents: [...auth, bobsJoin],
        ts: Date.now(),
      });
      expect(await a.services.rooms.membership(room, bob.userId)).toMatchObject({
        membership: 'join',
        eventId: rejoin,
      });
      const afterKick = await sendText(a, alice, room, 'bob never left');

      // His resolved membership at the kick's position says joined: he is notified of and sees
      // what follows it.
      expect(await listed(bob)).toContain(afterKick);
      expect(await timeline(bob, room)).toContain(afterKick);
      const base = `${V3}/rooms/${encodeURIComponent(room)}`;
      await call(a, bob, 'GET', `${base}/event/${encodeURIComponent(afterKick)}`);
      const db = a.services.ctx.db;
      const position = await db.queryOne<{ stream_position: number | null }>(
        'SELECT stream_position FROM events WHERE event_id = $1',
        [kick],
      );
      expect(position?.stream_position).not.toBeNull();
      const resolved = await db.query<{ membership: string }>(
        `SELECT membership FROM resolved_memberships
          WHERE user_id = $1 AND room_id = $2 AND stream_position = $3`,
        [bob.userId, room, Number(position?.stream_position)],
      );
      expect(resolved).toEqual([{ membership: 'join' }]);
    }, 60_000);
  });
}
