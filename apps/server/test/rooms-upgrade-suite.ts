/**
 * Room upgrades (client-server-api "Room Upgrades") over real HTTP: the old room gets a
 * tombstone and restricted power levels, the new room (versions 10, 11 and 12) names its
 * predecessor, has the transferable state and bans copied, and takes over the local aliases and
 * the directory listing; a user without the power to upgrade changes nothing. Responses are
 * checked against the spec's OpenAPI schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { call, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/** The tests, on the database `options` chooses (SQLite by default). */
export function upgradeSuite(options: () => TestServerOptions = () => ({})): void {
  describe('room upgrades', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    const spec = new ClientServerSpec();

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol] = await registerUsers(server, ['alice', 'bob', 'carol']);
    });
    afterAll(() => server.stop());

    async function upgrade(
      user: TestUser,
      roomId: string,
      body: Json,
      status = 200,
    ): Promise<Json> {
      const path = `${V3}/rooms/${enc(roomId)}/upgrade`;
      const response = await server.client.request<Json>('POST', path, {
        token: user.accessToken,
        body,
      });
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      await spec.expectValid('POST', path, status, response.body);
      return response.body;
    }

    const stateEvent = (user: TestUser, roomId: string, type: string, key = '') =>
      call(
        server,
        user,
        'GET',
        `${V3}/rooms/${enc(roomId)}/state/${type}/${enc(key)}?format=event`,
      );
    const stateContent = (user: TestUser, roomId: string, type: string, key = '') =>
      call(server, user, 'GET', `${V3}/rooms/${enc(roomId)}/state/${type}/${enc(key)}`);

    it('replaces a v10 room with a v11 room that takes its state, bans, aliases and listing', async () => {
      const { room_id: oldRoom } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
        visibility: 'public',
        room_version: '10',
        name: 'Old name',
        topic: 'Old topic',
        room_alias_name: 'upgraded',
      });
      await call(server, bob, 'POST', `${V3}/join/${enc(oldRoom)}`, {});
      await call(server, carol, 'POST', `${V3}/join/${enc(oldRoom)}`, {});
      await call(server, alice, 'POST', `${V3}/rooms/${enc(oldRoom)}/ban`, {
        user_id: carol.userId,
        reason: 'spam',
      });
      const lastOld = await sendText(server, alice, oldRoom, 'last words');

      const { replacement_room: newRoom } = await upgrade(alice, oldRoom, { new_version: '11' });
      expect(newRoom).not.toBe(oldRoom);

      // The old room: tombstone, no alias, members can no longer talk.
      expect(await stateContent(bob, oldRoom, 'm.room.tombstone')).toEqual({
        body: 'This room has been replaced',
        replacement_room: newRoom,
      });
      expect(await stateContent(bob, oldRoom, 'm.room.canonical_alias')).toEqual({});
      const power = await stateContent(bob, oldRoom, 'm.room.power_levels');
      expect(power['events_default']).toBe(50);
      expect(power['invite']).toBe(50);
      const refused = await server.client.request<Json>(
        'PUT',
        `${V3}/rooms/${enc(oldRoom)}/send/m.room.message/u1`,
        { token: bob.accessToken, body: { msgtype: 'm.text', body: 'still here?' } },
      );
      expect(refused.status).toBe(403);

      // The new room: version 11 create naming its predecessor (v11: no `creator`).
      const create = await stateEvent(alice, newRoom, 'm.room.create');
      expect(create['sender']).toBe(alice.userId);
      expect(create['content']).toEqual({
        room_version: '11',
        predecessor: { room_id: oldRoom, event_id: lastOld },
      });
      expect((await stateContent(alice, newRoom, 'm.room.name'))['name']).toBe('Old name');
      expect((await stateContent(alice, newRoom, 'm.room.topic'))['topic']).toBe('Old topic');
      expect(await stateContent(alice, newRoom, 'm.room.join_rules')).toEqual({
        join_rule: 'public',
      });
      expect(await stateContent(alice, newRoom, 'm.room.canonical_alias')).toEqual({
        alias: '#upgraded:test.local',
      });
      const ban = await stateContent(alice, newRoom, 'm.room.member', carol.userId);
      expect(ban).toEqual({ membership: 'ban', reason: 'spam' });
      expect(
        (await stateContent(alice, newRoom, 'm.room.power_levels'))['users'][alice.userId],
      ).toBe(100);
      // Aliases and the directory point at the new room.
      const alias = await call(
        server,
        bob,
        'GET',
        `${V3}/directory/room/${enc('#upgraded:test.local')}`,
      );
      expect(alias['room_id']).toBe(newRoom);
      const listed = (await call(server, bob, 'GET', `${V3}/publicRooms`))['chunk'].map(
        (r: Json) => r['room_id'],
      );
      expect(listed).toContain(newRoom);
      expect(listed).not.toContain(oldRoom);
      // Members follow the tombstone; the banned one cannot.
      await call(server, bob, 'POST', `${V3}/join/${enc(newRoom)}`, {});
      const banned = await server.client.request('POST', `${V3}/join/${enc(newRoom)}`, {
        token: carol.accessToken,
        body: {},
      });
      expect(banned.status).toBe(403);
    });

    it('upgrades to v12: the room ID comes from the create event, creators are outside power levels', async () => {
      const { room_id: oldRoom } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'private_chat',
        room_version: '11',
        invite: [bob.userId],
      });
      await call(server, bob, 'POST', `${V3}/join/${enc(oldRoom)}`, {});
      const { replacement_room: newRoom } = await upgrade(alice, oldRoom, {
        new_version: '12',
        additional_creators: [bob.userId],
      });
      // v12 room IDs are the create event's reference hash: no server name.
      expect(newRoom).toMatch(/^![A-Za-z0-9_-]{43}$/);
      const create = await stateEvent(alice, newRoom, 'm.room.create');
      expect(`!${String(create['event_id']).slice(1)}`).toBe(newRoom);
      expect(create['content']['additional_creators']).toEqual([bob.userId]);
      expect(create['content']['creator']).toBeUndefined();
      expect(create['content']['predecessor']['room_id']).toBe(oldRoom);
      const users = (await stateContent(alice, newRoom, 'm.room.power_levels'))['users'];
      expect(users[alice.userId]).toBeUndefined();
      expect(users[bob.userId]).toBeUndefined();
      // Bob, an additional creator, may upgrade the v12 room further despite power level 0.
      await call(server, bob, 'POST', `${V3}/join/${enc(newRoom)}`, {});
      const { replacement_room: newer } = await upgrade(bob, newRoom, { new_version: '12' });
      expect((await stateContent(bob, newRoom, 'm.room.tombstone'))['replacement_room']).toBe(
        newer,
      );
    });

    it('ignores additional_creators when the new version has no additional creators', async () => {
      const { room_id: oldRoom } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
        room_version: '10',
      });
      const { replacement_room: newRoom } = await upgrade(alice, oldRoom, {
        new_version: '11',
        additional_creators: [bob.userId],
      });
      const create = await stateContent(alice, newRoom, 'm.room.create');
      expect(create['room_version']).toBe('11');
      expect(create['additional_creators']).toBeUndefined();
      const invite = await server.client.request<Json>(
        'GET',
        `${V3}/rooms/${enc(newRoom)}/state/m.room.member/${enc(bob.userId)}`,
        { token: alice.accessToken },
      );
      expect(invite.status).toBe(404);
    });

    it('copies the children of a space, so the new space lists them', async () => {
      const { room_id: space } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
        room_version: '10',
        name: 'Space',
        creation_content: { type: 'm.space' },
      });
      const { room_id: child } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
        name: 'Child',
      });
      const { room_id: removed } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
      });
      const putChild = (roomId: string, content: Json) =>
        call(
          server,
          alice,
          'PUT',
          `${V3}/rooms/${enc(space)}/state/m.space.child/${enc(roomId)}`,
          content,
        );
      await putChild(child, { via: ['test.local'], order: 'a' });
      await putChild(removed, { via: ['test.local'] });
      await putChild(removed, {});

      const { replacement_room: newSpace } = await upgrade(alice, space, { new_version: '11' });
      expect((await stateContent(alice, newSpace, 'm.room.create'))['type']).toBe('m.space');
      expect(await stateContent(alice, newSpace, 'm.space.child', child)).toEqual({
        via: ['test.local'],
        order: 'a',
      });
      const missing = await server.client.request<Json>(
        'GET',
        `${V3}/rooms/${enc(newSpace)}/state/m.space.child/${enc(removed)}`,
        { token: alice.accessToken },
      );
      expect(missing.status).toBe(404);
      const hierarchy = await call(
        server,
        alice,
        'GET',
        `/_matrix/client/v1/rooms/${enc(newSpace)}/hierarchy`,
      );
      const ids = hierarchy['rooms'].map((r: Json) => r['room_id']);
      expect(ids).toEqual([newSpace, child]);
    });

    it('upgrades when the user may send the tombstone but not clear the canonical alias', async () => {
      const { room_id: oldRoom } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
        room_version: '10',
        room_alias_name: 'kept-canonical',
        power_level_content_override: {
          users: { [alice.userId]: 100, [bob.userId]: 50 },
          events: { 'm.room.tombstone': 50, 'm.room.canonical_alias': 100 },
        },
      });
      await call(server, bob, 'POST', `${V3}/join/${enc(oldRoom)}`, {});
      const { replacement_room: newRoom } = await upgrade(bob, oldRoom, { new_version: '11' });
      expect((await stateContent(bob, oldRoom, 'm.room.tombstone'))['replacement_room']).toBe(
        newRoom,
      );
      // The old room keeps its canonical alias; the alias itself moved to the new room.
      expect(await stateContent(bob, oldRoom, 'm.room.canonical_alias')).toEqual({
        alias: '#kept-canonical:test.local',
      });
      expect(await stateContent(bob, newRoom, 'm.room.canonical_alias')).toEqual({
        alias: '#kept-canonical:test.local',
      });
      const alias = await call(
        server,
        bob,
        'GET',
        `${V3}/directory/room/${enc('#kept-canonical:test.local')}`,
      );
      expect(alias['room_id']).toBe(newRoom);
    });

    it('refuses users without the power to upgrade, and unknown versions, changing nothing', async () => {
      const { room_id: roomId } = await call(server, alice, 'POST', `${V3}/createRoom`, {
        preset: 'public_chat',
      });
      await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
      const before = (await call(server, bob, 'GET', `${V3}/joined_rooms`))['joined_rooms'].length;
      const refused = await upgrade(bob, roomId, { new_version: '11' }, 403);
      expect(refused['errcode']).toBe('M_FORBIDDEN');
      expect((await call(server, bob, 'GET', `${V3}/joined_rooms`))['joined_rooms'].length).toBe(
        before,
      );
      const missing = await server.client.request<Json>(
        'GET',
        `${V3}/rooms/${enc(roomId)}/state/m.room.tombstone/`,
        { token: bob.accessToken },
      );
      expect(missing.status).toBe(404);
      const version = await upgrade(alice, roomId, { new_version: '1' }, 400);
      expect(version['errcode']).toBe('M_UNSUPPORTED_ROOM_VERSION');
      const notMember = await upgrade(carol, roomId, { new_version: '11' }, 403);
      expect(notMember['errcode']).toBe('M_FORBIDDEN');
    });
  });
}
