/**
 * Membership and room-creation rules of the client-server API on one server: restricted joins
 * (membership.ts `restrictedJoinAuthoriser`), kicks of users not in the room, repeated invites,
 * reading a room never joined (visibility.ts), createRoom's aliases raced, refused initial state
 * and v12 additional creators. Run on SQLite by rooms-membership-rules.test.ts and on PostgreSQL
 * by rooms-membership-rules-postgres.test.ts.
 */
import { MatrixError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRoom as createRoomDirectly } from '../src/services/rooms/create-room.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

/** Registers the tests against servers started with `options()`. */
export function roomsMembershipRulesSuite(options: () => TestServerOptions): void {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    server = await startTestServer(options());
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    carol = await server.client.registerUser('carol');
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  async function request(user: TestUser, method: string, path: string, body?: unknown) {
    return server.client.request<Json>(method, path, {
      ...(body !== undefined ? { body } : method === 'GET' ? {} : { body: {} }),
      token: user.accessToken,
    });
  }

  async function membership(roomId: string, userId: string): Promise<string> {
    return (await server.services.rooms.membership(roomId, userId))?.membership ?? 'none';
  }

  describe('restricted joins (spec client-server-api "Restricted rooms")', () => {
    for (const joinRule of ['restricted', 'knock_restricted'] as const) {
      it(`${joinRule}: a member of an allowed room joins; anyone else gets 403`, async () => {
        const space = await createRoom(server, alice, [bob], { room_version: '10' });
        const roomId = await createRoom(server, alice, [], {
          room_version: '10',
          initial_state: [
            {
              type: 'm.room.join_rules',
              content: {
                join_rule: joinRule,
                allow: [{ type: 'm.room_membership', room_id: space }],
              },
            },
          ],
        });
        const refused = await request(carol, 'POST', `/_matrix/client/v3/join/${roomId}`);
        expect(refused.status).toBe(403);
        expect(refused.body['errcode']).toBe('M_FORBIDDEN');
        expect(await membership(roomId, carol.userId)).toBe('none');

        await call(server, bob, 'POST', `/_matrix/client/v3/join/${roomId}`, {});
        expect(await membership(roomId, bob.userId)).toBe('join');
        const member = await server.services.rooms.currentStateEvent(
          roomId,
          'm.room.member',
          bob.userId,
        );
        const content = member?.pdu['content'] as Json;
        expect(content['join_authorised_via_users_server']).toBe(alice.userId);
      });
    }
  });

  describe('kick (spec "POST /rooms/{roomId}/kick")', () => {
    it('refuses to kick a user who never joined, and does not lift a ban', async () => {
      const roomId = await createRoom(server, alice, [], { preset: 'public_chat' });
      const stranger = await request(alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/kick`, {
        user_id: carol.userId,
      });
      expect(stranger.status).toBe(403);
      expect(stranger.body['errcode']).toBe('M_FORBIDDEN');
      expect(await membership(roomId, carol.userId)).toBe('none');

      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/ban`, {
        user_id: carol.userId,
      });
      const banned = await request(alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/kick`, {
        user_id: carol.userId,
      });
      expect(banned.status).toBe(403);
      expect(await membership(roomId, carol.userId)).toBe('ban');

      // A joined user is still kicked.
      await call(server, bob, 'POST', `/_matrix/client/v3/join/${roomId}`, {});
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/kick`, {
        user_id: bob.userId,
      });
      expect(await membership(roomId, bob.userId)).toBe('leave');
    });
  });

  describe('invite of an already invited user', () => {
    it('answers 403 to a sender who may not invite, 200 to one who may', async () => {
      const roomId = await createRoom(server, alice);
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      const outsider = await request(carol, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      expect(outsider.status).toBe(403);
      expect(outsider.body['errcode']).toBe('M_FORBIDDEN');
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      expect(await membership(roomId, bob.userId)).toBe('invite');
    });
  });

  describe('reading a room never joined (spec rooms.yaml 403 "weren\'t previously a member")', () => {
    it('refuses /state and /members after a rejected invite or a ban before joining', async () => {
      const roomId = await createRoom(server, alice);
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      await call(server, bob, 'POST', `/_matrix/client/v3/rooms/${roomId}/leave`, {});
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/ban`, {
        user_id: carol.userId,
      });
      for (const user of [bob, carol]) {
        for (const path of ['state', 'members']) {
          const response = await request(user, 'GET', `/_matrix/client/v3/rooms/${roomId}/${path}`);
          expect(response.status, `${user.userId} ${path}`).toBe(403);
        }
      }
      // One who did join still reads the state as of their leaving.
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      await call(server, bob, 'POST', `/_matrix/client/v3/join/${roomId}`, {});
      await call(server, bob, 'POST', `/_matrix/client/v3/rooms/${roomId}/leave`, {});
      await call(server, alice, 'PUT', `/_matrix/client/v3/rooms/${roomId}/state/m.room.name/`, {
        name: 'later',
      });
      const state = (await call(
        server,
        bob,
        'GET',
        `/_matrix/client/v3/rooms/${roomId}/state`,
      )) as unknown as Json[];
      expect(state.some((e) => e['type'] === 'm.room.name')).toBe(false);
      expect(state.some((e) => e['type'] === 'm.room.create')).toBe(true);
    });
  });

  describe('createRoom', () => {
    it('answers 400 M_ROOM_IN_USE to one of two concurrent requests for one alias', async () => {
      const body = { room_alias_name: 'raced' };
      const answers = await Promise.all(
        [alice, bob, carol].map((user) =>
          request(user, 'POST', '/_matrix/client/v3/createRoom', body),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([200, 400, 400]);
      for (const answer of answers) {
        if (answer.status === 400) expect(answer.body['errcode']).toBe('M_ROOM_IN_USE');
      }
    });

    it('answers 400 M_ROOM_IN_USE for an alias taken after the endpoint checked it', async () => {
      // What a concurrent createRoom or PUT /directory/room does between the endpoint's check and
      // the creation's transaction: the alias exists by the time the room is written.
      const existing = await createRoom(server, alice);
      await call(server, alice, 'PUT', '/_matrix/client/v3/directory/room/%23taken:test.local', {
        room_id: existing,
      });
      const error = await createRoomDirectly(server.services.rooms, {
        creator: bob.userId,
        creatorDevice: bob.deviceId,
        alias: '#taken:test.local',
      }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(MatrixError);
      expect((error as MatrixError).status).toBe(400);
      expect((error as MatrixError).errcode).toBe('M_ROOM_IN_USE');
    });

    it('answers 400 M_INVALID_ROOM_STATE to state the authorization rules refuse', async () => {
      const override = await request(alice, 'POST', '/_matrix/client/v3/createRoom', {
        room_version: '12',
        power_level_content_override: { users: { [alice.userId]: 100 } },
      });
      expect(override.status).toBe(400);
      expect(override.body['errcode']).toBe('M_INVALID_ROOM_STATE');
      const initial = await request(alice, 'POST', '/_matrix/client/v3/createRoom', {
        room_version: '12',
        initial_state: [
          { type: 'm.room.power_levels', content: { users: { [alice.userId]: 50 } } },
        ],
      });
      expect(initial.status).toBe(400);
      expect(initial.body['errcode']).toBe('M_INVALID_ROOM_STATE');
    });

    it("v12 trusted_private_chat: the client's additional_creators are kept beside the invitees", async () => {
      const { room_id: roomId } = await call(
        server,
        alice,
        'POST',
        '/_matrix/client/v3/createRoom',
        {
          room_version: '12',
          preset: 'trusted_private_chat',
          invite: [bob.userId],
          creation_content: { additional_creators: [carol.userId] },
        },
      );
      const create = await server.services.rooms.currentStateEvent(roomId, 'm.room.create', '');
      expect(create).toBeDefined();
      const creators = (create as { pdu: Json }).pdu['content']['additional_creators'] as string[];
      expect([...creators].sort()).toEqual([bob.userId, carol.userId].sort());
    });
  });
}
