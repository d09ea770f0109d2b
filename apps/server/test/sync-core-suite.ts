/**
 * GET /sync (spec client-server-api "Syncing"): initial and incremental syncs, timeline limits
 * with `limited`/`prev_batch`, state at the start of the timeline, long-polling, filters,
 * invite/join/leave sections, summaries and tokens that survive a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import {
  call,
  createRoom,
  type Json,
  messageBodies,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

/** Registers the tests against servers started with `options()` (SQLite or PostgreSQL). */
export function syncSuite(options: () => TestServerOptions): void {
  describe('sync', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol] = await registerUsers(server, ['alice', 'bob', 'carol']);
    });
    afterAll(() => server.stop());

    it('gives an initial sync with the timeline, full state at its start, and a usable prev_batch', async () => {
      const roomId = await createRoom(server, alice);
      for (const body of ['one', 'two', 'three']) await sendText(server, alice, roomId, body);
      const response = await sync(server, alice, {
        filter: JSON.stringify({ room: { timeline: { limit: 2 } } }),
      });
      expect(typeof response['next_batch']).toBe('string');
      const room = response['rooms']['join'][roomId];
      expect(messageBodies(room['timeline'])).toEqual(['two', 'three']);
      expect(room['timeline']['limited']).toBe(true);
      // Timeline events of /sync leave out room_id (ClientEventWithoutRoomID).
      expect(room['timeline']['events'][0]['room_id']).toBeUndefined();
      const stateTypes = (room['state']['events'] as Json[]).map((e) => e['type']);
      expect(stateTypes).toContain('m.room.create');
      expect(stateTypes).toContain('m.room.power_levels');
      expect(stateTypes).toContain('m.room.member');
      expect(stateTypes).not.toContain('m.room.message');
      expect(room['summary']['m.joined_member_count']).toBe(1);
      expect(room['summary']['m.invited_member_count']).toBe(0);
      expect(room['unread_notifications']).toEqual({ notification_count: 0, highlight_count: 0 });
      expect(response['device_one_time_keys_count']).toEqual({ signed_curve25519: 0 });
      expect(response['device_unused_fallback_key_types']).toEqual([]);
      // Initial syncs carry no device_lists (spec "Extensions to /sync").
      expect(response['device_lists']).toBeUndefined();

      const page = await call(
        server,
        alice,
        'GET',
        `/_matrix/client/v3/rooms/${roomId}/messages?dir=b&limit=1&from=${room['timeline']['prev_batch']}`,
      );
      expect(page['chunk'].map((e: Json) => e['content']['body'])).toEqual(['one']);
    });

    it('returns only what changed on an incremental sync, and waits (long-poll) for news', async () => {
      const roomId = await createRoom(server, alice);
      const first = await sync(server, alice);
      const quiet = await sync(server, alice, { since: first['next_batch'], timeout: 0 });
      expect(quiet['rooms']['join'][roomId]).toBeUndefined();
      expect(quiet['device_lists']).toEqual({ changed: [], left: [] });

      const waiting = sync(server, alice, { since: quiet['next_batch'], timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await sendText(server, alice, roomId, 'wake up');
      const woken = await waiting;
      const room = woken['rooms']['join'][roomId];
      expect(messageBodies(room['timeline'])).toEqual(['wake up']);
      expect(room['timeline']['limited']).toBe(false);
      expect(room['state']['events']).toEqual([]);
    });

    it('answers an idle long-poll when the timeout passes, with a token that still works', async () => {
      const first = await sync(server, carol);
      const idle = await sync(server, carol, { since: first['next_batch'], timeout: 150 });
      expect(idle['rooms']).toEqual({ join: {}, invite: {}, knock: {}, leave: {} });
      expect(typeof idle['next_batch']).toBe('string');
      await sync(server, carol, { since: idle['next_batch'] });
    });

    it('gives the state delta of the gap when an incremental timeline is limited', async () => {
      const roomId = await createRoom(server, alice);
      const token = (await sync(server, alice))['next_batch'];
      await call(server, alice, 'PUT', `/_matrix/client/v3/rooms/${roomId}/state/m.room.topic/`, {
        topic: 'gap topic',
      });
      for (let i = 0; i < 4; i++) await sendText(server, alice, roomId, `m${i}`);
      const response = await sync(server, alice, {
        since: token,
        filter: JSON.stringify({ room: { timeline: { limit: 2 } } }),
      });
      const room = response['rooms']['join'][roomId];
      expect(room['timeline']['limited']).toBe(true);
      expect(messageBodies(room['timeline'])).toEqual(['m2', 'm3']);
      const state = room['state']['events'] as Json[];
      expect(state.map((e) => e['type'])).toEqual(['m.room.topic']);
      expect(state[0]?.['content']).toEqual({ topic: 'gap topic' });
    });

    it('shows invites with stripped state, then the joined room with full state', async () => {
      const roomId = await createRoom(server, alice, [], { name: 'Invite room' });
      const token = (await sync(server, bob))['next_batch'];
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: bob.userId,
      });
      const invited = await sync(server, bob, { since: token });
      const inviteState = invited['rooms']['invite'][roomId]['invite_state']['events'] as Json[];
      expect(inviteState.find((e) => e['type'] === 'm.room.name')?.['content']).toEqual({
        name: 'Invite room',
      });
      expect(
        inviteState.find((e) => e['type'] === 'm.room.member' && e['state_key'] === bob.userId)?.[
          'content'
        ]['membership'],
      ).toBe('invite');

      await call(server, bob, 'POST', `/_matrix/client/v3/join/${roomId}`, {});
      const joined = await sync(server, bob, { since: invited['next_batch'] });
      const room = joined['rooms']['join'][roomId];
      expect(joined['rooms']['invite'][roomId]).toBeUndefined();
      // Newly joined: the full state at the start of the timeline plus the timeline.
      const everything = [...room['state']['events'], ...room['timeline']['events']] as Json[];
      expect(everything.some((e) => e['type'] === 'm.room.create')).toBe(true);
      expect(
        everything.some(
          (e) =>
            e['type'] === 'm.room.member' &&
            e['state_key'] === bob.userId &&
            e['content']['membership'] === 'join',
        ),
      ).toBe(true);
      expect(room['summary']['m.joined_member_count']).toBe(2);
      expect(room['summary']['m.heroes']).toBeUndefined(); // the room has a name

      // Spec RoomSummary: unchanged fields may be omitted. A message changes no state, so the
      // next incremental sync leaves the summary empty; a membership change brings it back.
      await sendText(server, bob, roomId, 'no state change');
      const quiet = await sync(server, bob, { since: joined['next_batch'] });
      expect(quiet['rooms']['join'][roomId]['summary']).toEqual({});
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
        user_id: carol.userId,
      });
      const changed = await sync(server, bob, { since: quiet['next_batch'] });
      expect(changed['rooms']['join'][roomId]['summary']).toMatchObject({
        'm.joined_member_count': 2,
        'm.invited_member_count': 1,
      });
    });

    it('moves a left room to rooms.leave with the timeline up to the leave, and no further', async () => {
      const roomId = await createRoom(server, alice, [carol]);
      const token = (await sync(server, carol))['next_batch'];
      await sendText(server, alice, roomId, 'before leave');
      await call(server, carol, 'POST', `/_matrix/client/v3/rooms/${roomId}/leave`, {});
      await sendText(server, alice, roomId, 'after leave');
      const response = await sync(server, carol, { since: token });
      expect(response['rooms']['join'][roomId]).toBeUndefined();
      const left = response['rooms']['leave'][roomId];
      const events = left['timeline']['events'] as Json[];
      expect(messageBodies(left['timeline'])).toEqual(['before leave']);
      expect(events.at(-1)?.['type']).toBe('m.room.member');
      expect(events.at(-1)?.['content']['membership']).toBe('leave');
      // An initial sync leaves it out unless the filter asks for left rooms.
      expect((await sync(server, carol))['rooms']['leave'][roomId]).toBeUndefined();
      const withLeave = await sync(server, carol, {
        filter: JSON.stringify({ room: { include_leave: true } }),
      });
      expect(messageBodies(withLeave['rooms']['leave'][roomId]['timeline'])).toContain(
        'before leave',
      );
    });

    it('lazy-loads members: only the timeline senders and the user (and heroes of unnamed rooms)', async () => {
      const dave = await server.client.registerUser('dave');
      const erin = await server.client.registerUser('erin');
      const roomId = await createRoom(server, alice, [dave, erin], { name: 'Lazy' });
      await sendText(server, dave, roomId, 'from dave');
      const response = await sync(server, alice, {
        filter: JSON.stringify({
          room: { timeline: { limit: 1 }, state: { lazy_load_members: true } },
        }),
      });
      const room = response['rooms']['join'][roomId];
      const members = (room['state']['events'] as Json[])
        .filter((e) => e['type'] === 'm.room.member')
        .map((e) => e['state_key'])
        .sort();
      expect(members).toEqual([alice.userId, dave.userId].sort());
      const full = await sync(server, alice, {
        filter: JSON.stringify({ room: { timeline: { limit: 1 } } }),
      });
      const allMembers = (full['rooms']['join'][roomId]['state']['events'] as Json[]).filter(
        (e) => e['type'] === 'm.room.member',
      );
      expect(allMembers).toHaveLength(3);
      const unnamed = await createRoom(server, alice, [dave, erin]);
      await sendText(server, dave, unnamed, 'hello');
      const lazyUnnamed = await sync(server, alice, {
        filter: JSON.stringify({
          room: { timeline: { limit: 1 }, state: { lazy_load_members: true } },
        }),
      });
      const unnamedRoom = lazyUnnamed['rooms']['join'][unnamed];
      expect(unnamedRoom['summary']['m.heroes']).toEqual([dave.userId, erin.userId]);
      // Spec: "the membership events for the heroes MUST be included in the state".
      expect(
        (unnamedRoom['state']['events'] as Json[])
          .filter((e) => e['type'] === 'm.room.member')
          .map((e) => e['state_key'])
          .sort(),
      ).toEqual([alice.userId, dave.userId, erin.userId].sort());
    });

    it('applies room and timeline filters', async () => {
      const kept = await createRoom(server, alice);
      const dropped = await createRoom(server, alice);
      await sendText(server, alice, kept, 'kept');
      const response = await sync(server, alice, {
        filter: JSON.stringify({
          room: {
            rooms: [kept, dropped],
            not_rooms: [dropped],
            timeline: { types: ['m.room.message'] },
          },
        }),
      });
      expect(Object.keys(response['rooms']['join'])).toEqual([kept]);
      const types = (response['rooms']['join'][kept]['timeline']['events'] as Json[]).map(
        (e) => e['type'],
      );
      expect(types).toEqual(['m.room.message']);
    });

    it('marks syncing users online and shows presence of room-mates only', async () => {
      const frank = await server.client.registerUser('frank');
      const gina = await server.client.registerUser('gina');
      const stranger = await server.client.registerUser('stranger');
      await createRoom(server, frank, [gina]);
      const token = (await sync(server, frank))['next_batch'];
      await sync(server, stranger);
      await sync(server, gina, { set_presence: 'unavailable' });
      const response = await sync(server, frank, { since: token });
      const presence = response['presence']['events'] as Json[];
      expect(presence.map((e) => e['sender'])).toEqual([gina.userId]);
      expect(presence[0]?.['type']).toBe('m.presence');
      expect(presence[0]?.['content']['presence']).toBe('unavailable');
      const status = await call(
        server,
        frank,
        'GET',
        `/_matrix/client/v3/presence/${encodeURIComponent(frank.userId)}/status`,
      );
      expect(status['presence']).toBe('online');
      expect((await sync(server, frank, { set_presence: 'bogus' }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
    });

    it('refuses malformed parameters with 4xx errcodes', async () => {
      expect((await sync(server, alice, { filter: '{nope' }, 400))['errcode']).toBe('M_NOT_JSON');
      expect(
        (
          await sync(
            server,
            alice,
            { filter: JSON.stringify({ room: { timeline: { limit: 'x' } } }) },
            400,
          )
        )['errcode'],
      ).toBe('M_BAD_JSON');
      expect((await sync(server, alice, { filter: 'no-such-filter' }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      expect((await sync(server, alice, { since: 'garbage' }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      expect((await sync(server, alice, { timeout: -1 }, 400))['errcode']).toBe('M_INVALID_PARAM');
      expect((await sync(server, alice, { full_state: 'maybe' }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      const noToken = await server.client.request('GET', '/_matrix/client/v3/sync');
      expect(noToken.status).toBe(401);
      expect(noToken.body['errcode']).toBe('M_MISSING_TOKEN');
    });

    it('serves the legacy r0 path, and tokens keep working across a restart', async () => {
      const roomId = await createRoom(server, alice);
      const legacy = await server.client.request<Json>('GET', '/_matrix/client/r0/sync', {
        token: alice.accessToken,
      });
      expect(legacy.status).toBe(200);
      const token = legacy.body['next_batch'];
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      await sendText(server, alice, roomId, 'after restart');
      const response = await sync(server, alice, { since: token });
      expect(messageBodies(response['rooms']['join'][roomId]['timeline'])).toEqual([
        'after restart',
      ]);
      // Only what came after the token; a token older than the process also clears every joined
      // room's typing list (typing is not persisted), with no timeline events.
      for (const [otherId, other] of Object.entries(response['rooms']['join'] as Json)) {
        if (otherId === roomId) continue;
        expect(other['timeline']['events']).toEqual([]);
        expect(other['ephemeral']['events']).toEqual([
          { type: 'm.typing', content: { user_ids: [] } },
        ]);
      }
      const next = await sync(server, alice, { since: response['next_batch'] });
      expect(next['rooms']['join']).toEqual({});
    });
  });
}
