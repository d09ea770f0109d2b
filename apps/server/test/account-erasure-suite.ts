/**
 * Erasure at deactivation on one server (client-server-api "POST /account/deactivate", `erase`):
 * users who join the room after the erasure are served the erased user's events redacted, users
 * who could see them before still see them in full, and an account deactivated without `erase`
 * stays as it was. On SQLite in account-erasure.test.ts, on PostgreSQL in
 * account-erasure-postgres.test.ts.
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
const PASSWORD = 'correct horse battery staple';

/** The tests, on the database `options` chooses (SQLite by default). */
export function accountErasureSuite(options: () => TestServerOptions = () => ({})): void {
  describe('events of a user erased at deactivation', () => {
    let server: TestServer;
    // Alice is erased, Erin deactivated without erase. Bob was joined throughout; Dave joined
    // after Alice's message but before the erasure (`shared`: he could see it then); Carol joins
    // after the erasure. Fay, invited by Bob (the invite copies her display name), is erased
    // without having joined.
    let alice: TestUser;
    let fay: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let dave: TestUser;
    let erin: TestUser;
    let roomId: string;
    const ids: Record<string, string> = {};
    const spec = new ClientServerSpec();

    const deactivate = (user: TestUser, erase: boolean) =>
      call(server, user, 'POST', `${V3}/account/deactivate`, {
        erase,
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: user.userId },
          password: PASSWORD,
        },
      });

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol, dave, erin, fay] = await registerUsers(server, [
        'alice',
        'bob',
        'carol',
        'dave',
        'erin',
        'fay',
      ]);
      // Member events copy these into their content.
      for (const user of [alice, fay]) {
        await call(server, user, 'PUT', `${V3}/profile/${enc(user.userId)}/displayname`, {
          displayname: `${user.userId.slice(1, 4)} display name`,
        });
      }
      // `public_chat`: history visibility `shared`, so later joiners see the history.
      roomId = await createRoom(server, alice, [], {
        preset: 'public_chat',
        topic: 'first topic',
        power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 100 } },
      });
      await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
      // Bob's topic copies Alice's in `unsigned.prev_content`.
      ids['topic'] = (
        await call(server, bob, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, {
          topic: 'second topic',
        })
      )['event_id'];
      await call(server, erin, 'POST', `${V3}/join/${enc(roomId)}`, {});
      ids['alice'] = await sendText(server, alice, roomId, 'from alice');
      ids['erin'] = await sendText(server, erin, roomId, 'from erin');
      await call(server, dave, 'POST', `${V3}/join/${enc(roomId)}`, {});
      // Bob reads the room before the erasure: the erased set is in memory from here on, and
      // the erasure must replace it.
      expect(await bodies(bob)).toEqual(['from alice', 'from erin']);
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, { user_id: fay.userId });
      await deactivate(alice, true);
      await deactivate(erin, false);
      await deactivate(fay, true);
      await call(server, carol, 'POST', `${V3}/join/${enc(roomId)}`, {});
    });
    afterAll(() => server.stop());

    /** The room's messages as `user` gets them from `/messages`, oldest first. */
    async function messages(user: TestUser): Promise<Json[]> {
      const path = `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`;
      const response = await server.client.request<Json>('GET', path, { token: user.accessToken });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      await spec.expectValid('GET', path, 200, response.body);
      return (response.body['chunk'] as Json[]).reverse();
    }

    async function bodies(user: TestUser): Promise<(string | undefined)[]> {
      return (await messages(user))
        .filter((event) => event['type'] === 'm.room.message')
        .map((event) => event['content']['body']);
    }

    const byId = (events: Json[], eventId: string | undefined) =>
      events.find((event) => event['event_id'] === eventId);

    it('/messages: redacted for a later joiner, in full for those who could see them before', async () => {
      const seen = await messages(carol);
      // Stripped by the redaction algorithm (room v11: a message keeps no content) …
      expect(byId(seen, ids['alice'])?.['content']).toEqual({});
      expect(byId(seen, ids['alice'])?.['sender']).toBe(alice.userId);
      // … with no redaction event to point to.
      expect(byId(seen, ids['alice'])?.['unsigned']['redacted_because']).toBeUndefined();
      // Alice's own join keeps its membership only: her display name is gone as well.
      const aliceJoin = seen.find(
        (event) =>
          event['type'] === 'm.room.member' &&
          event['state_key'] === alice.userId &&
          event['content']['membership'] === 'join',
      );
      expect(aliceJoin?.['content']).toEqual({ membership: 'join' });
      // Alice's topic, copied into Bob's topic event, is redacted there too (v11 keeps no topic).
      const prevTopic = async (user: TestUser) =>
        byId(await messages(user), ids['topic'])?.['unsigned']['prev_content'];
      expect(await prevTopic(carol)).toEqual({});
      expect((await prevTopic(bob))['topic']).toBe('first topic');
      expect((await prevTopic(dave))['topic']).toBe('first topic');
      // Erin was deactivated without erase: her message stays.
      expect(await bodies(carol)).toEqual([undefined, 'from erin']);
      expect(await bodies(bob)).toEqual(['from alice', 'from erin']);
      // Dave joined after the message but before the erasure: he had visibility on it.
      expect(await bodies(dave)).toEqual(['from alice', 'from erin']);
    });

    it('/event and /context serve the same copy', async () => {
      const path = `${V3}/rooms/${enc(roomId)}/event/${enc(ids['alice'] ?? '')}`;
      const forCarol = await call(server, carol, 'GET', path);
      await spec.expectValid('GET', path, 200, forCarol);
      expect(forCarol['content']).toEqual({});
      expect((await call(server, bob, 'GET', path))['content']['body']).toBe('from alice');

      const context = `${V3}/rooms/${enc(roomId)}/context/${enc(ids['alice'] ?? '')}`;
      expect((await call(server, carol, 'GET', context))['event']['content']).toEqual({});
      expect((await call(server, dave, 'GET', context))['event']['content']['body']).toBe(
        'from alice',
      );
      const erin = `${V3}/rooms/${enc(roomId)}/event/${enc(ids['erin'] ?? '')}`;
      expect((await call(server, carol, 'GET', erin))['content']['body']).toBe('from erin');
    });

    it('/sync timelines too', async () => {
      const filter = JSON.stringify({ room: { timeline: { limit: 100 } } });
      const timeline = async (user: TestUser) =>
        (await sync(server, user, { filter }))['rooms']['join'][roomId]['timeline'][
          'events'
        ] as Json[];
      expect(byId(await timeline(carol), ids['alice'])?.['content']).toEqual({});
      expect(byId(await timeline(carol), ids['erin'])?.['content']['body']).toBe('from erin');
      expect(byId(await timeline(bob), ids['alice'])?.['content']['body']).toBe('from alice');
      expect(byId(await timeline(dave), ids['alice'])?.['content']['body']).toBe('from alice');
    });

    it('search finds no erased message for a later joiner', async () => {
      const search = (user: TestUser) =>
        call(server, user, 'POST', `${V3}/search`, {
          search_categories: { room_events: { search_term: 'alice' } },
        });
      const results = (body: Json) =>
        (body['search_categories']['room_events']['results'] as Json[]).map(
          (result) => result['result']['event_id'],
        );
      expect(results(await search(bob))).toEqual([ids['alice']]);
      expect(results(await search(carol))).toEqual([]);
      // Bob's topic is found: only its `prev_content` (Alice's topic) is redacted for Carol.
      const topic = await call(server, carol, 'POST', `${V3}/search`, {
        search_categories: { room_events: { search_term: 'second' } },
      });
      expect(results(topic)).toEqual([ids['topic']]);
    });

    /** `user`'s member event in `events` with this membership. */
    const memberEvent = (events: Json[], user: TestUser, membership = 'join') =>
      events.find(
        (event) =>
          event['type'] === 'm.room.member' &&
          event['state_key'] === user.userId &&
          event['content']['membership'] === membership,
      );

    it('state at an earlier point serves the erased member events as the timeline does', async () => {
      // A timeline starting at Alice's message: the state at its start holds her join, with the
      // display name.
      const fromAlice =
        (await messages(carol)).length -
        (await messages(carol)).findIndex((event) => event['event_id'] === ids['alice']);
      const filter = JSON.stringify({
        room: { timeline: { limit: fromAlice }, state: { lazy_load_members: true } },
      });
      const initial = async (user: TestUser) => {
        const room = (await sync(server, user, { filter }))['rooms']['join'][roomId];
        expect(byId(room['timeline']['events'], ids['alice'])).toBeDefined();
        return room;
      };
      const carolSync = await initial(carol);
      expect(memberEvent(carolSync['state']['events'], alice)?.['content']).toEqual({
        membership: 'join',
      });
      const daveSync = await initial(dave);
      expect(memberEvent(daveSync['state']['events'], alice)?.['content']['displayname']).toBe(
        'ali display name',
      );

      // /members at the timeline's start.
      const members = async (user: TestUser, at: string) => {
        const path = `${V3}/rooms/${enc(roomId)}/members?at=${enc(at)}`;
        return (await call(server, user, 'GET', path))['chunk'] as Json[];
      };
      const carolAt = carolSync['timeline']['prev_batch'];
      expect(memberEvent(await members(carol, carolAt), alice)?.['content']).toEqual({
        membership: 'join',
      });
      expect(
        memberEvent(await members(dave, daveSync['timeline']['prev_batch']), alice)?.['content'][
          'displayname'
        ],
      ).toBe('ali display name');

      // /messages from the timeline's start: Alice's message, her member event as of it.
      const lazy = JSON.stringify({ lazy_load_members: true });
      const page = async (user: TestUser, from: string) => {
        const path = `${V3}/rooms/${enc(roomId)}/messages?dir=f&limit=1&from=${enc(from)}&filter=${enc(lazy)}`;
        const body = await call(server, user, 'GET', path);
        expect(byId(body['chunk'], ids['alice'])).toBeDefined();
        return body['state'] as Json[];
      };
      expect(memberEvent(await page(carol, carolAt), alice)?.['content']).toEqual({
        membership: 'join',
      });
      expect(
        memberEvent(await page(dave, daveSync['timeline']['prev_batch']), alice)?.['content'][
          'displayname'
        ],
      ).toBe('ali display name');

      // /context of Alice's message, lazy-loading members.
      const context = async (user: TestUser) => {
        const path = `${V3}/rooms/${enc(roomId)}/context/${enc(ids['alice'] ?? '')}?limit=0&filter=${enc(lazy)}`;
        return (await call(server, user, 'GET', path))['state'] as Json[];
      };
      expect(memberEvent(await context(carol), alice)?.['content']).toEqual({ membership: 'join' });
      expect(memberEvent(await context(dave), alice)?.['content']['displayname']).toBe(
        'ali display name',
      );

      // Search's historic profiles: Erin's message, with Alice's before it.
      const profiles = async (user: TestUser) => {
        const body = await call(server, user, 'POST', `${V3}/search`, {
          search_categories: {
            room_events: {
              search_term: 'erin',
              event_context: { before_limit: 1, after_limit: 0, include_profile: true },
            },
          },
        });
        const [result] = body['search_categories']['room_events']['results'] as Json[];
        return result?.['context']['profile_info'];
      };
      expect((await profiles(carol))[alice.userId]).toEqual({});
      expect((await profiles(dave))[alice.userId]).toEqual({ displayname: 'ali display name' });
    });

    it("another's invite of an erased user loses the invitee's profile for a later joiner", async () => {
      const invite = async (user: TestUser) => memberEvent(await messages(user), fay, 'invite');
      expect((await invite(carol))?.['content']).toEqual({ membership: 'invite' });
      expect((await invite(bob))?.['content']['displayname']).toBe('fay display name');
      // Her leave at deactivation copied the invite into `prev_content`.
      const leave = memberEvent(await messages(carol), fay, 'leave');
      expect(leave?.['unsigned']?.['prev_content']).toBeUndefined();
      const members = (await call(server, carol, 'GET', `${V3}/rooms/${enc(roomId)}/members`))[
        'chunk'
      ] as Json[];
      expect(JSON.stringify(members)).not.toContain('display name');
    });

    it('prev_content of an erased sender: kept only by who could see the replacing event before the erasure', async () => {
      // Hana joins, leaves; Gus sets a topic; Bob replaces it; Gus is erased; Hana rejoins.
      const [gus, hana] = await registerUsers(server, ['gus', 'hana']);
      if (gus === undefined || hana === undefined) throw new Error('users not registered');
      const room = await createRoom(server, bob, [], {
        preset: 'public_chat',
        power_level_content_override: { users: { [bob.userId]: 100, [gus.userId]: 100 } },
      });
      const topic = (user: TestUser, text: string) =>
        call(server, user, 'PUT', `${V3}/rooms/${enc(room)}/state/m.room.topic`, { topic: text });
      await call(server, hana, 'POST', `${V3}/join/${enc(room)}`, {});
      await call(server, hana, 'POST', `${V3}/rooms/${enc(room)}/leave`, {});
      await call(server, gus, 'POST', `${V3}/join/${enc(room)}`, {});
      const secret = (await topic(gus, 'secret'))['event_id'];
      const replacing = (await topic(bob, 'later'))['event_id'];
      await deactivate(gus, true);
      await call(server, hana, 'POST', `${V3}/join/${enc(room)}`, {});
      const path = (eventId: string) => `${V3}/rooms/${enc(room)}/event/${enc(eventId)}`;
      expect((await call(server, hana, 'GET', path(secret)))['content']).toEqual({});
      expect(
        (await call(server, hana, 'GET', path(replacing)))['unsigned']['prev_content'],
      ).toEqual({});
      expect(
        (await call(server, bob, 'GET', path(replacing)))['unsigned']['prev_content']['topic'],
      ).toBe('secret');
    });

    it('the erasure is recorded after the leaves of the deactivation', async () => {
      const db = server.services.ctx.db;
      const erased = await db.queryOne<{ stream_position: number }>(
        'SELECT stream_position FROM erased_users WHERE user_id = $1',
        [alice.userId],
      );
      const leave = await db.queryOne<{ stream_position: number }>(
        'SELECT stream_position FROM room_memberships WHERE user_id = $1 AND room_id = $2',
        [alice.userId, roomId],
      );
      expect(Number(erased?.stream_position)).toBeGreaterThanOrEqual(
        Number(leave?.stream_position),
      );
      expect(
        await db.queryOne('SELECT 1 AS one FROM erased_users WHERE user_id = $1', [erin.userId]),
      ).toBeUndefined();
    });
  });
}
