/**
 * Kept unread counts (services/push/service.ts) follow an event's increments after its commit
 * rather than reading the sums back: whatever mix of batched sends, mentions, refused sends and
 * receipts, the counts served from memory equal a recount from the push-action rows, for users
 * whose counts were kept before the events and for users read for the first time after them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import { countUnread } from '../src/services/push/store.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { joinRoom } from '../src/services/rooms/membership.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';
const members = ['@bob:test.local', '@carol:test.local', '@dave:test.local'];
const outsider = '@mallory:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('kept unread counts', () => {
  it('equal a recount from the rows after batched, mentioning and refused sends', async () => {
    const { rooms, push, ctx } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      preset: 'public_chat',
    });
    for (const member of members) await joinRoom(rooms, roomId, member);
    // Bob's and carol's counts are kept in memory from here on; dave's are read later.
    for (const user of members.slice(0, 2)) {
      await push.unreadNotificationsOfRooms(user, [roomId], await currentStreamPosition(ctx.db));
    }
    const send = (sender: string, content: Record<string, unknown>) =>
      rooms.send({ roomId, type: 'm.room.message', sender, content });
    for (let round = 0; round < 3; round++) {
      // One batch: plain messages, a mention of carol (her own highlighting row), a send the
      // room refuses (rolled back alone, with its after-commit work).
      const outcomes = await Promise.allSettled([
        send(alice, { msgtype: 'm.text', body: `hello ${round}` }),
        send(members[0] as string, { msgtype: 'm.text', body: 'from bob' }),
        send(alice, {
          msgtype: 'm.text',
          body: 'carol, look',
          'm.mentions': { user_ids: ['@carol:test.local'] },
        }),
        send(outsider, { msgtype: 'm.text', body: 'refused' }),
        send(alice, { msgtype: 'm.notice', body: 'a notice notifies nobody' }),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
        'fulfilled',
      ]);
    }
    const now = await currentStreamPosition(ctx.db);
    for (const user of members) {
      const kept = (await push.unreadNotificationsOfRooms(user, [roomId], now)).get(roomId);
      const recount = await countUnread(ctx.db, user, roomId, now);
      expect(kept).toEqual({
        notification_count: recount.notifications,
        highlight_count: recount.highlights,
      });
    }
    // Carol: nine messages by others notify her (three of them mention and highlight her; the
    // notices notify nobody).
    expect(
      (await push.unreadNotificationsOfRooms('@carol:test.local', [roomId], now)).get(roomId),
    ).toEqual({
      notification_count: 9,
      highlight_count: 3,
    });
    // Bob sent three of the nine himself: the other six notify him.
    expect(
      (await push.unreadNotificationsOfRooms('@bob:test.local', [roomId], now)).get(roomId),
    ).toEqual({
      notification_count: 6,
      highlight_count: 0,
    });
  });
});
