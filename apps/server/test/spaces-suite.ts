/**
 * Spaces, room summaries and jump to date over real HTTP (api/client/hierarchy.ts,
 * room-summary.ts, timestamp-to-event.ts), on SQLite (spaces-api.test.ts) and PostgreSQL
 * (spaces-postgres.test.ts): `GET /hierarchy` walks a space with children and
 * grandchildren depth first in `order`, leaves out rooms the viewer may not preview and children
 * this server does not know, honours `suggested_only`, `max_depth`, `limit` and `from`;
 * `GET /room_summary` by ID and alias, with and without a token; `GET /timestamp_to_event` in
 * both directions, at the edges and under history visibility. Every answer is validated against
 * the spec's OpenAPI schemas (space_hierarchy.yaml, room_summary.yaml,
 * room_event_by_timestamp.yaml).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type RegisteredUser,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import type { Json } from './sync-helpers.ts';

const spec = new ClientServerSpec();
const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The suite, on the database `options` name (SQLite by default). */
export function spacesSuite(options: () => TestServerOptions = () => ({})): void {
  let server: TestServer;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let carol: RegisteredUser;

  async function check(
    user: RegisteredUser | undefined,
    method: string,
    path: string,
    status = 200,
    body?: unknown,
  ): Promise<Json> {
    const response = await server.client.request<Json>(method, path, {
      ...(user !== undefined ? { token: user.accessToken } : {}),
      ...(body !== undefined ? { body } : {}),
    });
    if (response.status !== status) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    if (path.startsWith(V1)) await spec.expectValid(method, path, status, response.body);
    return response.body;
  }

  async function createRoom(user: RegisteredUser, body: Json): Promise<string> {
    return String((await check(user, 'POST', `${V3}/createRoom`, 200, body))['room_id']);
  }

  beforeAll(async () => {
    server = await startTestServer(options());
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    carol = await server.client.registerUser('carol');
  }, 30_000);
  afterAll(() => server?.stop());

  describe('GET /rooms/{roomId}/hierarchy and GET /room_summary', () => {
    let space: string;
    let roomA: string;
    let roomB: string;
    let subspace: string;
    let roomD: string;
    let roomE: string;
    const unknown = '!unknown:elsewhere.example';

    const child = (roomId: string, order: string, suggested: boolean) =>
      check(alice, 'PUT', `${V3}/rooms/${enc(space)}/state/m.space.child/${enc(roomId)}`, 200, {
        via: ['test.local'],
        order,
        ...(suggested ? { suggested: true } : {}),
      });

    beforeAll(async () => {
      space = await createRoom(alice, {
        preset: 'public_chat',
        name: 'The Space',
        topic: 'Everything',
        room_alias_name: 'space',
        creation_content: { type: 'm.space' },
      });
      roomA = await createRoom(alice, { preset: 'public_chat', name: 'A' });
      roomB = await createRoom(alice, {
        preset: 'private_chat',
        name: 'B',
        initial_state: [
          {
            type: 'm.room.encryption',
            state_key: '',
            content: { algorithm: 'm.megolm.v1.aes-sha2' },
          },
        ],
      });
      subspace = await createRoom(alice, {
        preset: 'public_chat',
        name: 'C',
        creation_content: { type: 'm.space' },
      });
      roomD = await createRoom(alice, { preset: 'public_chat', name: 'D' });
      roomE = await createRoom(alice, {
        preset: 'private_chat',
        name: 'E',
        initial_state: [
          {
            type: 'm.room.join_rules',
            state_key: '',
            content: {
              join_rule: 'restricted',
              allow: [{ type: 'm.room_membership', room_id: space }],
            },
          },
        ],
      });
      await child(roomA, 'a', true);
      await child(roomB, 'b', true);
      await child(subspace, 'c', false);
      await child(unknown, 'd', true);
      for (const [roomId, order] of [
        [roomD, 'a'],
        [roomE, 'b'],
      ] as const) {
        await check(
          alice,
          'PUT',
          `${V3}/rooms/${enc(subspace)}/state/m.space.child/${enc(roomId)}`,
          200,
          {
            via: ['test.local'],
            order,
            suggested: true,
          },
        );
      }
      // A child event without `via` names no child.
      await check(
        alice,
        'PUT',
        `${V3}/rooms/${enc(subspace)}/state/m.space.child/${enc(roomA)}`,
        200,
        {},
      );
      await check(bob, 'POST', `${V3}/join/${enc(space)}`, 200, {});
    }, 60_000);

    const hierarchy = (user: RegisteredUser, query = '', status = 200) =>
      check(user, 'GET', `${V1}/rooms/${enc(space)}/hierarchy${query}`, status);
    const ids = (body: Json) => (body['rooms'] as Json[]).map((room) => room['room_id']);

    it('walks the tree depth first in order, leaving out what the viewer may not see', async () => {
      expect(ids(await hierarchy(alice))).toEqual([space, roomA, roomB, subspace, roomD, roomE]);
      // Bob may not see the invite-only B; E is restricted to members of the space, which he is.
      expect(ids(await hierarchy(bob))).toEqual([space, roomA, subspace, roomD, roomE]);
      // Carol is in no room: the public ones only.
      expect(ids(await hierarchy(carol))).toEqual([space, roomA, subspace, roomD]);
    });

    it('gives summaries and the stripped child events', async () => {
      const body = await hierarchy(bob);
      const [root, a, c, , e] = body['rooms'] as Json[];
      expect(body['next_batch']).toBeUndefined();
      expect(root).toMatchObject({
        room_id: space,
        name: 'The Space',
        topic: 'Everything',
        canonical_alias: '#space:test.local',
        room_type: 'm.space',
        join_rule: 'public',
        num_joined_members: 2,
        world_readable: false,
        guest_can_join: false,
      });
      const childState = root?.['children_state'] as Json[];
      expect(childState.map((event) => event['state_key'])).toEqual([
        roomA,
        roomB,
        subspace,
        unknown,
      ]);
      expect(childState[0]).toMatchObject({
        type: 'm.space.child',
        sender: alice.userId,
        content: { via: ['test.local'], order: 'a', suggested: true },
      });
      expect(typeof childState[0]?.['origin_server_ts']).toBe('number');
      expect(a).toMatchObject({
        room_id: roomA,
        name: 'A',
        join_rule: 'public',
        children_state: [],
      });
      expect(((c?.['children_state'] ?? []) as Json[]).map((event) => event['state_key'])).toEqual([
        roomD,
        roomE,
      ]);
      expect(e).toMatchObject({ join_rule: 'restricted', allowed_room_ids: [space] });
    });

    it('suggested_only and max_depth', async () => {
      expect(ids(await hierarchy(alice, '?suggested_only=true'))).toEqual([space, roomA, roomB]);
      const suggested = await hierarchy(alice, '?suggested_only=true');
      expect(
        (((suggested['rooms'] as Json[])[0]?.['children_state'] ?? []) as Json[]).map(
          (e) => e['state_key'],
        ),
      ).toEqual([roomA, roomB, unknown]);
      expect(ids(await hierarchy(alice, '?max_depth=0'))).toEqual([space]);
      expect(ids(await hierarchy(alice, '?max_depth=1'))).toEqual([space, roomA, roomB, subspace]);
    });

    it('pages with limit and from', async () => {
      const seen: string[] = [];
      let from: string | undefined;
      let pages = 0;
      do {
        const body = await hierarchy(
          bob,
          `?limit=2${from === undefined ? '' : `&from=${enc(from)}`}`,
        );
        expect((body['rooms'] as Json[]).length).toBeLessThanOrEqual(2);
        seen.push(...ids(body));
        from = body['next_batch'];
        pages += 1;
      } while (from !== undefined && pages < 10);
      expect(seen).toEqual([space, roomA, subspace, roomD, roomE]);
      expect(pages).toBe(3);
      const first = await hierarchy(bob, '?limit=2');
      const token = enc(String(first['next_batch']));
      await hierarchy(bob, `?limit=2&from=${token}&suggested_only=true`, 400);
      await hierarchy(bob, `?limit=2&from=${token}&max_depth=1`, 400);
      await hierarchy(bob, '?from=nonsense', 400);
    });

    it('refuses a root the viewer may not see and bad parameters', async () => {
      await check(bob, 'GET', `${V1}/rooms/${enc(roomB)}/hierarchy`, 403);
      await check(bob, 'GET', `${V1}/rooms/${enc(unknown)}/hierarchy`, 403);
      await hierarchy(bob, '?limit=0', 400);
      await hierarchy(bob, '?max_depth=-1', 400);
      await hierarchy(bob, '?suggested_only=maybe', 400);
    });

    it('GET /room_summary', async () => {
      const summary = (user: RegisteredUser | undefined, target: string, status = 200) =>
        check(user, 'GET', `${V1}/room_summary/${enc(target)}`, status);
      expect(await summary(alice, space)).toMatchObject({
        room_id: space,
        name: 'The Space',
        room_type: 'm.space',
        membership: 'join',
        num_joined_members: 2,
      });
      expect(await summary(bob, '#space:test.local')).toMatchObject({
        room_id: space,
        membership: 'join',
      });
      expect(await summary(carol, roomA)).toMatchObject({
        room_id: roomA,
        join_rule: 'public',
        membership: 'leave',
      });
      expect(await summary(alice, roomB)).toMatchObject({
        join_rule: 'invite',
        encryption: 'm.megolm.v1.aes-sha2',
        membership: 'join',
      });
      expect((await summary(alice, roomB))['room_version']).toMatch(/^\d+$/);
      await summary(bob, roomB, 404);
      expect(await summary(bob, roomE)).toMatchObject({ room_id: roomE, membership: 'leave' });
      await summary(carol, roomE, 404);
      // Without a token: rooms anyone may join only, and no membership.
      const anonymous = await summary(undefined, roomA);
      expect(anonymous['room_id']).toBe(roomA);
      expect(anonymous['membership']).toBeUndefined();
      await summary(undefined, roomB, 404);
      await summary(alice, '#nothing:test.local', 404);
      await summary(alice, unknown, 404);
      // An invitee may preview.
      await check(alice, 'POST', `${V3}/rooms/${enc(roomB)}/invite`, 200, {
        user_id: carol.userId,
      });
      expect(await summary(carol, roomB)).toMatchObject({ room_id: roomB, membership: 'invite' });
    });
  });

  describe('GET /rooms/{roomId}/timestamp_to_event', () => {
    let room: string;
    let events: { id: string; ts: number }[];
    let bobJoin: { id: string; ts: number };
    let txn = 0;

    const eventTs = async (roomId: string, eventId: string) =>
      Number(
        (await check(alice, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`))[
          'origin_server_ts'
        ],
      );
    const send = async (body: string) => {
      await sleep(5);
      txn += 1;
      const sent = await check(
        alice,
        'PUT',
        `${V3}/rooms/${enc(room)}/send/m.room.message/ts${txn}`,
        200,
        { msgtype: 'm.text', body },
      );
      const id = String(sent['event_id']);
      return { id, ts: await eventTs(room, id) };
    };
    const lookup = (user: RegisteredUser, ts: number, dir: string, status = 200) =>
      check(user, 'GET', `${V1}/rooms/${enc(room)}/timestamp_to_event?ts=${ts}&dir=${dir}`, status);

    beforeAll(async () => {
      room = await createRoom(alice, {
        preset: 'public_chat',
        initial_state: [
          {
            type: 'm.room.history_visibility',
            state_key: '',
            content: { history_visibility: 'joined' },
          },
        ],
      });
      events = [];
      for (let i = 0; i < 3; i += 1) events.push(await send(`before ${i}`));
      await sleep(5);
      const joined = await check(bob, 'POST', `${V3}/join/${enc(room)}`, 200, {});
      expect(joined['room_id']).toBe(room);
      const member = await check(
        alice,
        'GET',
        `${V3}/rooms/${enc(room)}/state/m.room.member/${enc(bob.userId)}?format=event`,
      );
      bobJoin = { id: String(member['event_id']), ts: Number(member['origin_server_ts']) };
      for (let i = 0; i < 2; i += 1) events.push(await send(`after ${i}`));
    }, 30_000);

    it('finds the closest event in each direction', async () => {
      const [m0, m1, , , m4] = events;
      if (m0 === undefined || m1 === undefined || m4 === undefined) throw new Error('no events');
      expect(await lookup(alice, m1.ts, 'f')).toEqual({ event_id: m1.id, origin_server_ts: m1.ts });
      expect(await lookup(alice, m1.ts, 'b')).toEqual({ event_id: m1.id, origin_server_ts: m1.ts });
      expect((await lookup(alice, m1.ts - 1, 'b'))['event_id']).toBe(m0.id);
      expect((await lookup(alice, m0.ts + 1, 'f'))['event_id']).toBe(m1.id);
      // After the last event: backwards finds it, forwards nothing.
      expect((await lookup(alice, m4.ts + 60_000, 'b'))['event_id']).toBe(m4.id);
      await lookup(alice, m4.ts + 60_000, 'f', 404);
      // Before the first: forwards finds the create event, backwards nothing.
      const create = await check(
        alice,
        'GET',
        `${V3}/rooms/${enc(room)}/state/m.room.create/?format=event`,
      );
      expect((await lookup(alice, 0, 'f'))['event_id']).toBe(create['event_id']);
      await lookup(alice, 0, 'b', 404);
    });

    it('skips events the viewer may not see', async () => {
      const [m0, , m2, m3] = events;
      if (m0 === undefined || m2 === undefined || m3 === undefined) throw new Error('no events');
      // History visibility `joined`: Bob sees nothing from before his join but his own join.
      expect((await lookup(bob, m0.ts, 'f'))['event_id']).toBe(bobJoin.id);
      // Backwards, the room's earlier state that was `shared` when sent, not the messages.
      const before = await lookup(bob, m2.ts, 'b');
      expect(events.slice(0, 3).map((e) => e.id)).not.toContain(before['event_id']);
      expect(before['origin_server_ts']).toBeLessThanOrEqual(m0.ts);
      expect((await lookup(bob, m3.ts, 'f'))['event_id']).toBe(m3.id);
      // Carol was never in the room.
      await lookup(carol, m0.ts, 'f', 403);
    });

    it('rejects bad parameters', async () => {
      await check(alice, 'GET', `${V1}/rooms/${enc(room)}/timestamp_to_event?dir=f`, 400);
      await check(alice, 'GET', `${V1}/rooms/${enc(room)}/timestamp_to_event?ts=1`, 400);
      await lookup(alice, 1, 'x', 400);
      await check(alice, 'GET', `${V1}/rooms/${enc(room)}/timestamp_to_event?ts=abc&dir=f`, 400);
    });
  });
}
