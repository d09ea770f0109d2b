/**
 * PUT /rooms/{roomId}/typing/{userId} (spec client-server-api "Typing Notifications"): typing
 * reaches room members as `m.typing` ephemeral events in /sync, wakes long-polls, stops on
 * request or when the timeout passes; only joined users may set their own state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { call, createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

function typingOf(response: Json, roomId: string): string[] | undefined {
  const events = (response['rooms']['join'][roomId]?.['ephemeral']['events'] ?? []) as Json[];
  return events.find((e) => e['type'] === 'm.typing')?.['content']['user_ids'];
}

/** Registers the tests against servers started with `options()` (SQLite or PostgreSQL). */
export function typingSuite(options: () => TestServerOptions): void {
  describe('typing', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let roomId: string;
    const typingPath = (user: TestUser) =>
      `/_matrix/client/v3/rooms/${roomId}/typing/${encodeURIComponent(user.userId)}`;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      roomId = await createRoom(server, alice, [bob]);
    });
    afterAll(() => server.stop());

    it('delivers typing starts and stops to other members through sync', async () => {
      const token = (await sync(server, bob))['next_batch'];
      await call(server, alice, 'PUT', typingPath(alice), { typing: true, timeout: 30_000 });
      const started = await sync(server, bob, { since: token });
      expect(typingOf(started, roomId)).toEqual([alice.userId]);
      // An initial sync shows who is typing now.
      expect(typingOf(await sync(server, bob), roomId)).toEqual([alice.userId]);
      // Unchanged typing state is not repeated.
      const quiet = await sync(server, bob, { since: started['next_batch'] });
      expect(typingOf(quiet, roomId)).toBeUndefined();

      await call(server, alice, 'PUT', typingPath(alice), { typing: false });
      const stopped = await sync(server, bob, { since: started['next_batch'] });
      expect(typingOf(stopped, roomId)).toEqual([]);
    });

    it('wakes a waiting sync, and expires after the timeout', async () => {
      const token = (await sync(server, bob))['next_batch'];
      const waiting = sync(server, bob, { since: token, timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await call(server, alice, 'PUT', typingPath(alice), { typing: true, timeout: 100 });
      const woken = await waiting;
      expect(typingOf(woken, roomId)).toEqual([alice.userId]);
      // The expiry itself wakes the next long-poll with an empty list.
      const expired = await sync(server, bob, { since: woken['next_batch'], timeout: 10_000 });
      expect(typingOf(expired, roomId)).toEqual([]);
    });

    it('refuses typing for someone else, outside the room, or with a malformed body', async () => {
      const other = await call(server, alice, 'PUT', typingPath(bob), { typing: true }, 403);
      expect(other['errcode']).toBe('M_FORBIDDEN');
      const carol = await server.client.registerUser('carol');
      const outsider = await call(server, carol, 'PUT', typingPath(carol), { typing: true }, 403);
      expect(outsider['errcode']).toBe('M_FORBIDDEN');
      const bad = await call(server, alice, 'PUT', typingPath(alice), { typing: 'yes' }, 400);
      expect(bad['errcode']).toBe('M_BAD_JSON');
      const badTimeout = await call(
        server,
        alice,
        'PUT',
        typingPath(alice),
        { typing: true, timeout: -5 },
        400,
      );
      expect(badTimeout['errcode']).toBe('M_BAD_JSON');
      const badRoom = await call(
        server,
        alice,
        'PUT',
        `/_matrix/client/v3/rooms/not-a-room/typing/${encodeURIComponent(alice.userId)}`,
        { typing: true },
        400,
      );
      expect(badRoom['errcode']).toBe('M_INVALID_PARAM');
    });

    it('stops a member typing when they leave or are kicked', async () => {
      const dave = await server.client.registerUser('dave');
      const erin = await server.client.registerUser('erin');
      const room = await createRoom(server, alice, [dave, erin]);
      const path = (user: TestUser) =>
        `/_matrix/client/v3/rooms/${room}/typing/${encodeURIComponent(user.userId)}`;
      await call(server, dave, 'PUT', path(dave), { typing: true, timeout: 60_000 });
      await call(server, erin, 'PUT', path(erin), { typing: true, timeout: 60_000 });
      const token = (await sync(server, alice))['next_batch'];
      expect(server.services.typing.typingIn(room)).toEqual([dave.userId, erin.userId].sort());

      await call(server, dave, 'POST', `/_matrix/client/v3/rooms/${room}/leave`, {});
      const left = await sync(server, alice, { since: token });
      expect(typingOf(left, room)).toEqual([erin.userId]);
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${room}/kick`, {
        user_id: erin.userId,
      });
      const kicked = await sync(server, alice, { since: left['next_batch'] });
      expect(typingOf(kicked, room)).toEqual([]);
      expect(server.services.typing.typingIn(room)).toEqual([]);
    });
  });
}
