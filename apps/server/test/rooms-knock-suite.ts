/**
 * Knocking (client-server-api "Knocking on rooms") over real HTTP: a user knocks on a room whose
 * join rule is `knock` (or `knock_restricted`), sees it in `/sync`'s `rooms.knock` with
 * `knock_state`, cannot join on their own, and gets in once a member invites them. Rooms that do
 * not allow knocking refuse it (the authorization rules of @weft/dag). Responses are checked
 * against the spec's OpenAPI schemas.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { call, type Json, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/** The tests, on the database `options` chooses (SQLite by default). */
export function knockSuite(options: () => TestServerOptions = () => ({})): void {
  describe('knocking', () => {
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

    async function knock(user: TestUser, target: string, status = 200): Promise<Json> {
      const path = `${V3}/knock/${enc(target)}`;
      const response = await server.client.request<Json>('POST', path, {
        token: user.accessToken,
        body: { reason: 'let me in' },
      });
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      await spec.expectValid('POST', path, status, response.body);
      return response.body;
    }

    async function roomWithJoinRule(joinRule: Json, version = '11'): Promise<string> {
      return (
        await call(server, alice, 'POST', `${V3}/createRoom`, {
          preset: 'private_chat',
          room_version: version,
          initial_state: [{ type: 'm.room.join_rules', state_key: '', content: joinRule }],
        })
      )['room_id'];
    }

    it('knocks, shows the knock in /sync, and lets the knocker in by invite', async () => {
      const roomId = await roomWithJoinRule({ join_rule: 'knock' });
      await call(server, alice, 'PUT', `${V3}/directory/room/${enc('#knockers:test.local')}`, {
        room_id: roomId,
      });
      expect(await knock(bob, '#knockers:test.local')).toEqual({ room_id: roomId });

      const bobSync = await sync(server, bob);
      await spec.expectValid('GET', `${V3}/sync`, 200, bobSync);
      const knockState: Json[] = bobSync['rooms']['knock'][roomId]['knock_state']['events'];
      expect(knockState).toContainEqual(
        expect.objectContaining({ type: 'm.room.join_rules', content: { join_rule: 'knock' } }),
      );
      expect(knockState).toContainEqual(
        expect.objectContaining({
          type: 'm.room.member',
          state_key: bob.userId,
          content: expect.objectContaining({ membership: 'knock', reason: 'let me in' }),
        }),
      );
      const aliceTimeline: Json[] = (await sync(server, alice))['rooms']['join'][roomId][
        'timeline'
      ]['events'];
      expect(aliceTimeline.at(-1)).toMatchObject({
        type: 'm.room.member',
        state_key: bob.userId,
        content: { membership: 'knock' },
      });

      // A knocker cannot let themself in…
      const join = await server.client.request<Json>('POST', `${V3}/join/${enc(roomId)}`, {
        token: bob.accessToken,
        body: {},
      });
      expect(join.status).toBe(403);
      expect(join.body['errcode']).toBe('M_FORBIDDEN');
      // …a member invites them, and they join.
      await call(server, alice, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, {
        user_id: bob.userId,
      });
      expect((await sync(server, bob))['rooms']['invite'][roomId]).toBeDefined();
      await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
      const members = await call(server, bob, 'GET', `${V3}/rooms/${enc(roomId)}/joined_members`);
      expect(Object.keys(members['joined']).sort()).toEqual([alice.userId, bob.userId].sort());
      // Knocking on a room one is in is refused.
      expect((await knock(bob, roomId, 403))['errcode']).toBe('M_FORBIDDEN');
    });

    it('lets a member turn a knock away, and the knocker withdraw', async () => {
      const roomId = await roomWithJoinRule({ join_rule: 'knock' });
      await knock(carol, roomId);
      await call(server, alice, 'POST', `${V3}/rooms/${enc(roomId)}/kick`, {
        user_id: carol.userId,
        reason: 'not today',
      });
      const carolSync = await sync(server, carol);
      expect(carolSync['rooms']['knock']?.[roomId]).toBeUndefined();
      // Knock again, then withdraw by leaving.
      await knock(carol, roomId);
      await call(server, carol, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, {});
      const state = await call(
        server,
        alice,
        'GET',
        `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(carol.userId)}`,
      );
      expect(state['membership']).toBe('leave');
    });

    it('allows knock_restricted from room version 10, and refuses rooms that do not allow knocking', async () => {
      const restricted = await roomWithJoinRule({ join_rule: 'knock_restricted', allow: [] }, '10');
      expect(await knock(carol, restricted)).toEqual({ room_id: restricted });

      const invite = await roomWithJoinRule({ join_rule: 'invite' });
      expect((await knock(carol, invite, 403))['errcode']).toBe('M_FORBIDDEN');
      const unknown = await knock(carol, '!nowhere:test.local', 404);
      expect(unknown['errcode']).toBe('M_NOT_FOUND');
    });
  });
}
