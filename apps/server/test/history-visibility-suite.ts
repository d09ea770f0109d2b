/**
 * History visibility at each event on one server (the tests of history-visibility.test.ts, on
 * SQLite there and on PostgreSQL in push-keys-rooms-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

export async function setVisibility(
  server: TestServer,
  user: TestUser,
  roomId: string,
  visibility: string,
): Promise<void> {
  await call(server, user, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.history_visibility`, {
    history_visibility: visibility,
  });
}

export const bodiesOf = (events: Json[]): string[] =>
  events.filter((e) => e['type'] === 'm.room.message').map((e) => e['content']['body']);

/** The tests, on the database `options` chooses (SQLite by default). */
export function historyVisibilitySuite(options: () => TestServerOptions = () => ({})): void {
  describe('history visibility at each event', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let dave: TestUser;
    let roomId: string;
    const ids: Record<string, string> = {};
    const spec = new ClientServerSpec();

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol, dave] = await registerUsers(server, ['alice', 'bob', 'carol', 'dave']);
      roomId = await createRoom(server, alice, [], { preset: 'public_chat' });
      const say = async (body: string) => {
        ids[body] = await sendText(server, alice, roomId, body);
      };
      await say('shared-1'); // shared (the default): members who join later see it
      await setVisibility(server, alice, roomId, 'joined');
      await say('joined-2'); // only members joined at the time
      await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
      await say('joined-3');
      await setVisibility(server, alice, roomId, 'invited');
      await call(server, alice, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, {
        user_id: carol.userId,
      });
      await say('invited-4'); // carol is invited now: she may see it
      await call(server, carol, 'POST', `${V3}/join/${enc(roomId)}`, {});
      await say('invited-5');
      await setVisibility(server, alice, roomId, 'world_readable');
      await say('world-6'); // anyone
    });
    afterAll(() => server.stop());

    async function messages(user: TestUser): Promise<string[]> {
      const path = `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`;
      const response = await server.client.request<Json>('GET', path, { token: user.accessToken });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      await spec.expectValid('GET', path, 200, response.body);
      return bodiesOf(response.body['chunk']).reverse();
    }

    it('/messages follows the visibility and membership at each event', async () => {
      expect(await messages(alice)).toEqual([
        'shared-1',
        'joined-2',
        'joined-3',
        'invited-4',
        'invited-5',
        'world-6',
      ]);
      expect(await messages(bob)).toEqual([
        'shared-1',
        'joined-3',
        'invited-4',
        'invited-5',
        'world-6',
      ]);
      expect(await messages(carol)).toEqual(['shared-1', 'invited-4', 'invited-5', 'world-6']);
      // Dave never joined: the room is world_readable now, but only the world_readable part shows.
      expect(await messages(dave)).toEqual(['world-6']);
    });

    it('/event and /context hide what the viewer may not see', async () => {
      const hidden = await server.client.request<Json>(
        'GET',
        `${V3}/rooms/${enc(roomId)}/event/${enc(ids['joined-2'] ?? '')}`,
        { token: bob.accessToken },
      );
      expect(hidden.status).toBe(404);
      expect(hidden.body['errcode']).toBe('M_NOT_FOUND');
      const seen = await call(
        server,
        carol,
        'GET',
        `${V3}/rooms/${enc(roomId)}/event/${enc(ids['invited-4'] ?? '')}`,
      );
      expect(seen['content']['body']).toBe('invited-4');

      const path = `${V3}/rooms/${enc(roomId)}/context/${enc(ids['joined-3'] ?? '')}?limit=20`;
      const context = await call(server, bob, 'GET', path);
      await spec.expectValid('GET', path, 200, context);
      expect(bodiesOf(context['events_before'])).toEqual(['shared-1']);
      expect(bodiesOf(context['events_after'])).toEqual(['invited-4', 'invited-5', 'world-6']);
    });

    it('/sync timelines follow it too', async () => {
      const filter = JSON.stringify({ room: { timeline: { limit: 100 } } });
      const timeline = async (user: TestUser) =>
        bodiesOf(
          (await sync(server, user, { filter }))['rooms']['join'][roomId]['timeline']['events'],
        );
      expect(await timeline(bob)).toEqual([
        'shared-1',
        'joined-3',
        'invited-4',
        'invited-5',
        'world-6',
      ]);
      expect(await timeline(carol)).toEqual(['shared-1', 'invited-4', 'invited-5', 'world-6']);
    });
  });
}
