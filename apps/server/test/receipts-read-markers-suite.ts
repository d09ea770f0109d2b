/**
 * POST /rooms/{roomId}/receipt/{receiptType}/{eventId} and POST /rooms/{roomId}/read_markers
 * (spec client-server-api "Receipts", "Read markers"): receipts reach members as `m.receipt`
 * ephemeral events, private receipts only their sender, threaded receipts carry `thread_id`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

function receiptOf(response: Json, roomId: string): Json | undefined {
  const events = (response['rooms']['join'][roomId]?.['ephemeral']['events'] ?? []) as Json[];
  return events.find((e) => e['type'] === 'm.receipt')?.['content'];
}

/** Registers the tests against servers started with `options()` (SQLite or PostgreSQL). */
export function receiptsSuite(options: () => TestServerOptions): void {
  describe('receipts and read markers', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let roomId: string;
    const receiptPath = (type: string, eventId: string) =>
      `/_matrix/client/v3/rooms/${roomId}/receipt/${type}/${encodeURIComponent(eventId)}`;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      roomId = await createRoom(server, alice, [bob]);
    });
    afterAll(() => server.stop());

    it('delivers m.read receipts to every member, incrementally and in initial syncs', async () => {
      const eventId = await sendText(server, alice, roomId, 'read me');
      const token = (await sync(server, alice))['next_batch'];
      const waiting = sync(server, alice, { since: token, timeout: 10_000 });
      await call(server, bob, 'POST', receiptPath('m.read', eventId), {});
      const receipt = receiptOf(await waiting, roomId);
      expect(Object.keys(receipt ?? {})).toEqual([eventId]);
      expect(typeof receipt?.[eventId]['m.read'][bob.userId]['ts']).toBe('number');
      expect(receipt?.[eventId]['m.read'][bob.userId]['thread_id']).toBeUndefined();
      const initial = receiptOf(await sync(server, bob), roomId);
      expect(initial?.[eventId]['m.read'][bob.userId]).toBeDefined();
    });

    it('keeps m.read.private receipts to their sender and carries thread_id', async () => {
      const eventId = await sendText(server, alice, roomId, 'private');
      const aliceToken = (await sync(server, alice))['next_batch'];
      const bobToken = (await sync(server, bob))['next_batch'];
      await call(server, bob, 'POST', receiptPath('m.read.private', eventId), {});
      await call(server, bob, 'POST', receiptPath('m.read', eventId), { thread_id: 'main' });
      const forAlice = receiptOf(await sync(server, alice, { since: aliceToken }), roomId);
      expect(forAlice?.[eventId]['m.read.private']).toBeUndefined();
      expect(forAlice?.[eventId]['m.read'][bob.userId]['thread_id']).toBe('main');
      const forBob = receiptOf(await sync(server, bob, { since: bobToken }), roomId);
      expect(forBob?.[eventId]['m.read.private'][bob.userId]).toBeDefined();
    });

    it('sets receipts through read_markers too', async () => {
      const eventId = await sendText(server, alice, roomId, 'marker');
      const token = (await sync(server, alice))['next_batch'];
      await call(server, bob, 'POST', `/_matrix/client/v3/rooms/${roomId}/read_markers`, {
        'm.read': eventId,
      });
      const receipt = receiptOf(await sync(server, alice, { since: token }), roomId);
      expect(receipt?.[eventId]['m.read'][bob.userId]).toBeDefined();
    });

    it('stores m.fully_read as room account data, through read_markers and /receipt', async () => {
      const first = await sendText(server, alice, roomId, 'fully one');
      const second = await sendText(server, alice, roomId, 'fully two');
      const token = (await sync(server, bob))['next_batch'];
      await call(server, bob, 'POST', `/_matrix/client/v3/rooms/${roomId}/read_markers`, {
        'm.fully_read': first,
      });
      const marked = await sync(server, bob, { since: token });
      expect(marked['rooms']['join'][roomId]['account_data']['events']).toEqual([
        { type: 'm.fully_read', content: { event_id: first } },
      ]);
      await call(server, bob, 'POST', receiptPath('m.fully_read', second), {});
      const moved = await sync(server, bob, { since: marked['next_batch'] });
      expect(moved['rooms']['join'][roomId]['account_data']['events']).toEqual([
        { type: 'm.fully_read', content: { event_id: second } },
      ]);
      // A marker is not a receipt: other members see nothing of it.
      expect(receiptOf(moved, roomId)?.[second]).toBeUndefined();
    });

    it('ignores a receipt at or before the current one (a lagging device)', async () => {
      const early = await sendText(server, alice, roomId, 'early');
      await sendText(server, alice, roomId, 'middle');
      const late = await sendText(server, alice, roomId, 'late');
      await call(server, bob, 'POST', receiptPath('m.read', late), {});
      const unread = (response: Json) =>
        response['rooms']['join'][roomId]['unread_notifications']['notification_count'];
      expect(unread(await sync(server, bob))).toBe(0);
      const token = (await sync(server, alice))['next_batch'];
      // The older receipt is answered 200 but changes nothing: no unread counts come back and
      // no backwards receipt reaches the other members.
      await call(server, bob, 'POST', receiptPath('m.read', early), {});
      await call(server, bob, 'POST', `/_matrix/client/v3/rooms/${roomId}/read_markers`, {
        'm.read': early,
      });
      expect(unread(await sync(server, bob))).toBe(0);
      expect(receiptOf(await sync(server, alice, { since: token }), roomId)).toBeUndefined();
      const initial = receiptOf(await sync(server, alice), roomId);
      expect(initial?.[late]?.['m.read']?.[bob.userId]).toBeDefined();
      expect(initial?.[early]?.['m.read']?.[bob.userId]).toBeUndefined();
    });

    it('refuses a receipt for an event hidden from the user by history visibility', async () => {
      const hidden = await createRoom(server, alice, [], {
        initial_state: [
          {
            type: 'm.room.history_visibility',
            state_key: '',
            content: { history_visibility: 'joined' },
          },
        ],
      });
      const before = await sendText(server, alice, hidden, 'before bob joined');
      await call(server, alice, 'POST', `/_matrix/client/v3/rooms/${hidden}/invite`, {
        user_id: bob.userId,
      });
      await call(server, bob, 'POST', `/_matrix/client/v3/join/${hidden}`, {});
      const after = await sendText(server, alice, hidden, 'after bob joined');
      const path = (type: string, eventId: string) =>
        `/_matrix/client/v3/rooms/${hidden}/receipt/${type}/${encodeURIComponent(eventId)}`;
      const token = (await sync(server, alice))['next_batch'];
      for (const type of ['m.read', 'm.read.private']) {
        expect((await call(server, bob, 'POST', path(type, before), {}, 404))['errcode']).toBe(
          'M_NOT_FOUND',
        );
      }
      expect(
        (
          await call(
            server,
            bob,
            'POST',
            `/_matrix/client/v3/rooms/${hidden}/read_markers`,
            { 'm.read': before },
            404,
          )
        )['errcode'],
      ).toBe('M_NOT_FOUND');
      expect(receiptOf(await sync(server, alice, { since: token }), hidden)).toBeUndefined();
      await call(server, bob, 'POST', path('m.read', after), {});
    });

    it('refuses a threaded receipt whose event is not in that thread', async () => {
      let txn = 0;
      const send = async (type: string, content: Json) =>
        (
          await call(
            server,
            alice,
            'PUT',
            `/_matrix/client/v3/rooms/${roomId}/send/${type}/thr${Date.now()}-${++txn}`,
            content,
          )
        )['event_id'] as string;
      const root = await sendText(server, alice, roomId, 'thread root');
      const other = await sendText(server, alice, roomId, 'another root');
      await send('m.room.message', {
        msgtype: 'm.text',
        body: 'other reply',
        'm.relates_to': { rel_type: 'm.thread', event_id: other },
      });
      const reply = await send('m.room.message', {
        msgtype: 'm.text',
        body: 'in thread',
        'm.relates_to': { rel_type: 'm.thread', event_id: root },
      });
      const reaction = await send('m.reaction', {
        'm.relates_to': { rel_type: 'm.annotation', event_id: reply, key: '👍' },
      });
      const plain = await sendText(server, alice, roomId, 'main timeline');
      const status = async (eventId: string, threadId: string) => {
        const response = await server.client.request<Json>('POST', receiptPath('m.read', eventId), {
          token: bob.accessToken,
          body: { thread_id: threadId },
        });
        return response.status === 400
          ? `400 ${response.body['errcode']}`
          : String(response.status);
      };
      // The main timeline: not the thread's reply nor what relates to it (the reaction).
      expect(await status(reply, 'main')).toBe('400 M_INVALID_PARAM');
      expect(await status(reaction, 'main')).toBe('400 M_INVALID_PARAM');
      expect(await status(root, 'main')).toBe('200');
      expect(await status(plain, 'main')).toBe('200');
      // The thread: its reply, what relates to it and its root, nothing else.
      expect(await status(plain, root)).toBe('400 M_INVALID_PARAM');
      expect(await status(reply, other)).toBe('400 M_INVALID_PARAM');
      expect(await status(plain, '$not-an-event:test.local')).toBe('400 M_INVALID_PARAM');
      expect(await status(reply, root)).toBe('200');
      expect(await status(reaction, root)).toBe('200');
      expect(await status(root, root)).toBe('200');
    });

    it('refuses bad receipt types, thread IDs, unknown events and outsiders', async () => {
      const eventId = await sendText(server, alice, roomId, 'target');
      const errcode = async (path: string, body: unknown, status: number, user = bob) =>
        (await call(server, user, 'POST', path, body, status))['errcode'];
      expect(await errcode(receiptPath('m.nope', eventId), {}, 400)).toBe('M_INVALID_PARAM');
      expect(await errcode(receiptPath('m.read', eventId), { thread_id: '' }, 400)).toBe(
        'M_INVALID_PARAM',
      );
      expect(await errcode(receiptPath('m.read', eventId), { thread_id: 5 }, 400)).toBe(
        'M_INVALID_PARAM',
      );
      expect(await errcode(receiptPath('m.fully_read', eventId), { thread_id: 'main' }, 400)).toBe(
        'M_INVALID_PARAM',
      );
      expect(await errcode(receiptPath('m.read', '$unknown:test.local'), {}, 404)).toBe(
        'M_NOT_FOUND',
      );
      const carol = await server.client.registerUser('carol');
      expect(await errcode(receiptPath('m.read', eventId), {}, 403, carol)).toBe('M_FORBIDDEN');
      expect(
        await errcode(`/_matrix/client/v3/rooms/${roomId}/read_markers`, { 'm.read': 7 }, 400),
      ).toBe('M_BAD_JSON');
    });
  });
}
