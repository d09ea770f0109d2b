/**
 * Unread notification counts and `GET /notifications` on one server (the tests of
 * push-notifications.test.ts, on SQLite there and on PostgreSQL in push-keys-rooms-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import { countUnread } from '../src/services/push/store.ts';
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

/** The tests, on the database `options` chooses (SQLite by default). */
export function pushNotificationsSuite(options: () => TestServerOptions = () => ({})): void {
  describe('unread notification counts and GET /notifications', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    const spec = new ClientServerSpec();
    let txn = 0;

    beforeAll(async () => {
      server = await startTestServer(options());
      [alice, bob, carol] = await registerUsers(server, ['alice', 'bob', 'carol']);
    });
    afterAll(() => server.stop());

    async function send(user: TestUser, roomId: string, content: Json): Promise<string> {
      const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/p${++txn}`;
      return (await call(server, user, 'PUT', path, content))['event_id'];
    }

    async function counts(user: TestUser, roomId: string): Promise<Json> {
      const body = await sync(server, user);
      await spec.expectValid('GET', `${V3}/sync`, 200, body);
      return body['rooms']['join'][roomId]['unread_notifications'];
    }

    async function notifications(user: TestUser, query = ''): Promise<Json> {
      const path = `${V3}/notifications${query}`;
      const response = await server.client.request<Json>('GET', path, { token: user.accessToken });
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      await spec.expectValid('GET', path, 200, response.body);
      return response.body;
    }

    it('counts notifying events and resets on read receipts', async () => {
      const roomId = await createRoom(server, alice, [bob]);
      expect(await counts(bob, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });

      await sendText(server, alice, roomId, 'one');
      const second = await sendText(server, alice, roomId, 'two');
      await send(alice, roomId, { msgtype: 'm.notice', body: 'a bot notice' });
      const mention = await send(alice, roomId, {
        msgtype: 'm.text',
        body: 'Bob, look',
        'm.mentions': { user_ids: [bob.userId] },
      });
      // Two messages and the mention notify (.m.rule.room_one_to_one, .m.rule.is_user_mention);
      // the notice is suppressed (.m.rule.suppress_notices); only the mention highlights.
      expect(await counts(bob, roomId)).toEqual({ notification_count: 3, highlight_count: 1 });
      // The sender is never notified of their own events.
      expect(await counts(alice, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });

      await call(
        server,
        bob,
        'POST',
        `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(second)}`,
        {},
      );
      expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 1 });

      const list = await notifications(bob);
      expect(list['notifications'].map((n: Json) => [n['event']['event_id'], n['read']])).toEqual([
        [mention, false],
        [second, true],
        [expect.any(String), true],
        // Bob's invite (.m.rule.invite_for_me), read since he joined.
        [expect.any(String), true],
      ]);
      expect(list['notifications'][0]['room_id']).toBe(roomId);
      expect(list['notifications'][0]['actions']).toContainEqual({ set_tweak: 'highlight' });
      const highlights = await notifications(bob, '?only=highlight');
      expect(highlights['notifications'].map((n: Json) => n['event']['event_id'])).toEqual([
        mention,
      ]);

      // A private receipt through the read-markers endpoint resets the rest.
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/read_markers`, {
        'm.fully_read': mention,
        'm.read.private': mention,
      });
      expect(await counts(bob, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
      expect((await notifications(bob))['notifications'][0]['read']).toBe(true);
    });

    it('drops a redacted event from the counts and the list', async () => {
      const roomId = await createRoom(server, alice, [bob]);
      await sendText(server, alice, roomId, 'first');
      const oops = await sendText(server, alice, roomId, 'oops');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
      await call(server, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(oops)}/r1`, {});
      expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
      const listed = (await notifications(bob))['notifications'].map(
        (n: Json) => n['event']['event_id'],
      );
      expect(listed).not.toContain(oops);
    });

    it('pages through /notifications with next_token', async () => {
      const roomId = await createRoom(server, carol, [alice]);
      const sent: string[] = [];
      for (let i = 0; i < 5; i++) sent.push(await sendText(server, carol, roomId, `page ${i}`));
      const seen: string[] = [];
      let query = '?limit=2';
      for (;;) {
        const page = await notifications(alice, query);
        seen.push(
          ...page['notifications']
            .filter((n: Json) => n['room_id'] === roomId && n['event']['type'] === 'm.room.message')
            .map((n: Json) => n['event']['event_id']),
        );
        if (page['next_token'] === undefined) break;
        expect(page['notifications']).toHaveLength(2);
        query = `?limit=2&from=${page['next_token']}`;
      }
      expect(seen).toEqual([...sent].reverse());
      const bad = await server.client.request('GET', `${V3}/notifications?from=x`, {
        token: alice.accessToken,
      });
      expect(bad.status).toBe(400);
      expect(bad.body['errcode']).toBe('M_INVALID_PARAM');
    });

    it('applies room mentions, display names and the user’s own rules in a larger room', async () => {
      const roomId = await createRoom(server, alice, [bob, carol]);
      await call(server, bob, 'PUT', `${V3}/profile/${enc(bob.userId)}/displayname`, {
        displayname: 'Bobby Tables',
      });
      await call(
        server,
        bob,
        'POST',
        `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(
          await sendText(server, bob, roomId, 'caught up'),
        )}`,
        {},
      );
      // Three members: .m.rule.message notifies (no sound), no highlight.
      await sendText(server, alice, roomId, 'plain message');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
      // A body naming Bob, his user name or @room highlights nothing: spec v1.17 removed the
      // legacy body-mention default rules (.m.rule.contains_display_name, .m.rule.roomnotif,
      // .m.rule.contains_user_name); only m.mentions mention.
      await sendText(server, carol, roomId, 'ask bobby tables, he knows');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
      await sendText(server, alice, roomId, '@room: bob, look');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 3, highlight_count: 0 });
      // A user mention highlights.
      await send(carol, roomId, {
        msgtype: 'm.text',
        body: 'Bobby Tables',
        'm.mentions': { user_ids: [bob.userId] },
      });
      expect(await counts(bob, roomId)).toEqual({ notification_count: 4, highlight_count: 1 });
      // A room mention highlights when the sender has the power to notify the room (alice: 100)…
      await send(alice, roomId, { msgtype: 'm.text', body: 'all', 'm.mentions': { room: true } });
      expect(await counts(bob, roomId)).toEqual({ notification_count: 5, highlight_count: 2 });
      // …and does nothing special from carol (power 0 < notifications.room 50).
      await send(carol, roomId, { msgtype: 'm.text', body: 'all', 'm.mentions': { room: true } });
      expect(await counts(bob, roomId)).toEqual({ notification_count: 6, highlight_count: 2 });

      // Bob mutes the room with a room rule: later messages count nothing.
      await call(server, bob, 'PUT', `${V3}/pushrules/global/room/${enc(roomId)}`, { actions: [] });
      await sendText(server, alice, roomId, 'muted');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 6, highlight_count: 2 });
      // Deleting the rule brings notifications back (the cached ruleset is dropped).
      await call(server, bob, 'DELETE', `${V3}/pushrules/global/room/${enc(roomId)}`);
      await sendText(server, alice, roomId, 'unmuted');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 7, highlight_count: 2 });
    });

    it('counts and lists a highlight tweak only with notify (highlight_count counts notifications)', async () => {
      const roomId = await createRoom(server, alice, [bob, carol]);
      const rule = {
        conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'shiny' }],
        actions: [{ set_tweak: 'highlight' }],
      };
      const path = `${V3}/pushrules/global/override/highlight-only`;
      const caughtUp = await sendText(server, alice, roomId, 'caught up');
      for (const user of [bob, carol]) {
        const receipt = `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(caughtUp)}`;
        await call(server, user, 'POST', receipt, {});
      }
      // Bob alone has the rule (his own row), then Carol too (the audience's shared row).
      await call(server, bob, 'PUT', path, rule);
      const first = await sendText(server, alice, roomId, 'shiny');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
      expect(await counts(carol, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
      await call(server, carol, 'PUT', path, rule);
      const second = await sendText(server, alice, roomId, 'shiny again');
      expect(await counts(bob, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
      expect(await counts(carol, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
      for (const user of [bob, carol]) {
        const listed = [
          ...(await notifications(user))['notifications'],
          ...(await notifications(user, '?only=highlight'))['notifications'],
        ].map((n: Json) => n['event']['event_id']);
        expect(listed).not.toContain(second);
        // Carol's .m.rule.message notified her of the first.
        if (user === bob) expect(listed).not.toContain(first);
        else expect(listed).toContain(first);
      }
    });

    it('keeps counts that match counting the rows, through receipts, leaving and rejoining', async () => {
      const roomId = await createRoom(server, alice, [bob], { preset: 'public_chat' });
      // The kept counts (`unread_counts`) against counting `event_push_actions` afresh.
      const expectKeptMatchRows = async (expected: Json) => {
        expect(await counts(bob, roomId)).toEqual(expected);
        const db = server.services.ctx.db;
        const now = await currentStreamPosition(db);
        expect(await countUnread(db, bob.userId, roomId, now)).toEqual({
          notifications: expected['notification_count'],
          highlights: expected['highlight_count'],
        });
      };
      const first = await sendText(server, alice, roomId, 'one');
      await sendText(server, alice, roomId, 'two');
      const third = await sendText(server, alice, roomId, 'three');
      await expectKeptMatchRows({ notification_count: 3, highlight_count: 0 });
      await call(
        server,
        bob,
        'POST',
        `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(third)}`,
        {},
      );
      await expectKeptMatchRows({ notification_count: 0, highlight_count: 0 });
      // A later receipt on an earlier event changes nothing (receipts never move backwards).
      await call(
        server,
        bob,
        'POST',
        `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(first)}`,
        {},
      );
      await expectKeptMatchRows({ notification_count: 0, highlight_count: 0 });
      // A threaded receipt reads its thread only, and leaves the main timeline's counts alone.
      await sendText(server, alice, roomId, 'four');
      const reply = await send(alice, roomId, {
        msgtype: 'm.text',
        body: 'in a thread',
        'm.relates_to': { rel_type: 'm.thread', event_id: first },
      });
      await sendText(server, alice, roomId, 'five');
      await expectKeptMatchRows({ notification_count: 3, highlight_count: 0 });
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(reply)}`, {
        thread_id: first,
      });
      await expectKeptMatchRows({ notification_count: 2, highlight_count: 0 });
      // Leaving and rejoining: nothing from before the join is unread.
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, {});
      const away = await sendText(server, alice, roomId, 'while away');
      await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
      await expectKeptMatchRows({ notification_count: 0, highlight_count: 0 });
      await send(alice, roomId, {
        msgtype: 'm.text',
        body: 'welcome back',
        'm.mentions': { user_ids: [bob.userId] },
      });
      await expectKeptMatchRows({ notification_count: 1, highlight_count: 1 });
      // A profile change is a join after a join: it is not a new join, so nothing becomes read
      // (the kept counts, and a recount after a receipt on an earlier event, keep the mention).
      await call(server, bob, 'PUT', `${V3}/profile/${enc(bob.userId)}/displayname`, {
        displayname: 'Bob, renamed',
      });
      await expectKeptMatchRows({ notification_count: 1, highlight_count: 1 });
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(away)}`, {});
      await expectKeptMatchRows({ notification_count: 1, highlight_count: 1 });
      expect((await notifications(bob))['notifications'][0]['read']).toBe(false);
    });

    it('stores an event once for its audience; own rules, leaving and redactions still apply', async () => {
      const [dave] = await registerUsers(server, ['dave']);
      const roomId = await createRoom(server, alice, [bob, carol, dave], { preset: 'public_chat' });
      await call(server, dave, 'PUT', `${V3}/pushrules/global/room/${enc(roomId)}`, {
        actions: [],
      });
      const inRoom = async (user: TestUser, query = '') =>
        (await notifications(user, `?limit=100${query}`))['notifications']
          .filter((n: Json) => n['room_id'] === roomId && n['event']['type'] === 'm.room.message')
          .map((n: Json) => n['event']['event_id']);
      const expectCounts = async (expected: Record<string, [number, number]>) => {
        for (const [name, [notification_count, highlight_count]] of Object.entries(expected)) {
          const user = { alice, bob, carol, dave }[name] as TestUser;
          expect(await counts(user, roomId), name).toEqual({ notification_count, highlight_count });
        }
      };

      const db = server.services.ctx.db;
      // The rows stored from here on (the invites before have their invitees' own rows).
      const since = await currentStreamPosition(db);
      const rows = async (table: string) =>
        Number(
          (
            await db.queryOne<{ n: number }>(
              `SELECT COUNT(*) AS n FROM ${table} WHERE room_id = $1 AND stream_position > $2`,
              [roomId, since],
            )
          )?.n,
        );
      const first = await sendText(server, alice, roomId, 'first');
      await expectCounts({ alice: [0, 0], bob: [1, 0], carol: [1, 0], dave: [0, 0] });
      // One shared row for bob and carol; dave's muted decision is his own row.
      expect(await rows('push_room_actions')).toBe(1);
      expect(await rows('push_user_actions')).toBe(1);

      // Carol is not notified of what is sent while she is away, before or after she is back.
      await call(server, carol, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, {});
      const away = await sendText(server, alice, roomId, 'while carol is away');
      await call(server, carol, 'POST', `${V3}/join/${enc(roomId)}`, {});
      const back = await send(alice, roomId, {
        msgtype: 'm.text',
        body: 'everyone',
        'm.mentions': { room: true },
      });
      // A room mention is an override rule: it comes before dave's room rule.
      await expectCounts({ bob: [3, 1], carol: [1, 1], dave: [1, 1] });
      expect(await inRoom(bob)).toEqual([back, away, first]);
      expect(await inRoom(carol)).toEqual([back, first]);
      expect(await inRoom(carol, '&only=highlight')).toEqual([back]);
      expect(await inRoom(dave)).toEqual([back]);
      // While carol was away bob (notified) and dave (muted) were one each: no shared row, bob's
      // own; the room mention is the same for all three: one shared row.
      expect(await rows('push_room_actions')).toBe(2);
      expect(await rows('push_user_actions')).toBe(2);

      // A redaction drops the shared row: from every member's counts and lists.
      await call(server, alice, 'PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(first)}/r2`, {});
      await expectCounts({ bob: [2, 1], carol: [1, 1], dave: [1, 1] });
      expect(await inRoom(bob)).toEqual([back, away]);
      expect(await inRoom(carol)).toEqual([back]);
      const now = await currentStreamPosition(db);
      for (const user of [bob, carol, dave]) {
        const kept = await counts(user, roomId);
        expect(await countUnread(db, user.userId, roomId, now)).toEqual({
          notifications: kept['notification_count'],
          highlights: kept['highlight_count'],
        });
      }
    });

    it('notifies the invitee of an invite (.m.rule.invite_for_me)', async () => {
      const roomId = await createRoom(server, carol);
      await call(server, carol, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, {
        user_id: bob.userId,
      });
      const list = await notifications(bob, '?limit=1');
      expect(list['notifications'][0]['event']).toMatchObject({
        type: 'm.room.member',
        state_key: bob.userId,
        content: { membership: 'invite' },
      });
    });
  });
}
