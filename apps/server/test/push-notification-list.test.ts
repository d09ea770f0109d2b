/**
 * `GET /notifications` across many rooms (services/push/notification-list.ts): a page costs the
 * same few statements whether the user is in 3 rooms or 12 (it cost three to four per room),
 * and lists what it listed before: the notifying events of every room newest first, paged with
 * `next_token`, with `read` set by each room's read receipt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerUsers, startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.stop();
});

/** `user` in `rooms` rooms with `bob`, where bob sent two messages each (round by round). */
async function roomsWithMessages(
  user: TestUser,
  bob: TestUser,
  rooms: number,
): Promise<{ roomIds: string[]; messages: string[] }> {
  const roomIds: string[] = [];
  for (let i = 0; i < rooms; i++) roomIds.push(await createRoom(server, user, [bob]));
  const messages: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (const roomId of roomIds) messages.push(await sendText(server, bob, roomId, `m${round}`));
  }
  return { roomIds, messages };
}

/** The statements `work` runs through the server's database, counted. */
async function statementsOf(work: () => Promise<unknown>): Promise<number> {
  const db = server.services.ctx.db;
  const query = db.query.bind(db);
  const queryOne = db.queryOne.bind(db);
  let count = 0;
  db.query = ((sql, params) => {
    count++;
    return query(sql, params);
  }) as typeof db.query;
  db.queryOne = ((sql, params) => {
    count++;
    return queryOne(sql, params);
  }) as typeof db.queryOne;
  try {
    await work();
  } finally {
    db.query = query;
    db.queryOne = queryOne;
  }
  return count;
}

const firstPage = { before: Number.MAX_SAFE_INTEGER, limit: 21, onlyHighlights: false };

describe('GET /notifications across many rooms', () => {
  it('reads only what came after `after` when given (push delivery’s catch-up)', async () => {
    const [erin, bob] = await registerUsers(server, ['erin', 'bob2']);
    const { messages } = await roomsWithMessages(erin, bob, 3);
    const all = await server.services.push.notifications(erin.userId, firstPage);
    expect(all.map((n) => n.event.eventId)).toEqual([...messages].reverse());
    // After the third message: the three sent after it, newest first.
    const third = all.find((n) => n.event.eventId === messages[2]);
    if (third === undefined) throw new Error('third message not listed');
    const after = await server.services.push.notifications(erin.userId, {
      ...firstPage,
      after: third.position,
    });
    expect(after.map((n) => n.event.eventId)).toEqual(messages.slice(3).reverse());
  });

  it('reads a page with as many statements for 12 rooms as for 3', async () => {
    const [few, many, bob] = await registerUsers(server, ['few', 'many', 'bob']);
    await roomsWithMessages(few, bob, 3);
    await roomsWithMessages(many, bob, 12);
    const forFew = await statementsOf(() =>
      server.services.push.notifications(few.userId, firstPage),
    );
    const forMany = await statementsOf(() =>
      server.services.push.notifications(many.userId, firstPage),
    );
    expect(forMany).toBe(forFew);
    expect(forMany).toBeLessThanOrEqual(5);
  });

  it('lists every room’s notifying events newest first, pages them and marks the read ones', async () => {
    const [carol, dan] = await registerUsers(server, ['carol', 'dan']);
    const { roomIds, messages } = await roomsWithMessages(carol, dan, 12);
    const newestFirst = [...messages].reverse();

    const first: Json = await call(server, carol, 'GET', `${V3}/notifications?limit=10`);
    const listed = (page: Json) =>
      (page['notifications'] as Json[]).map((n) => n['event']['event_id'] as string);
    expect(listed(first)).toEqual(newestFirst.slice(0, 10));
    expect((first['notifications'] as Json[]).map((n) => n['room_id'])).toEqual(
      [...roomIds].reverse().slice(0, 10),
    );
    const token = first['next_token'] as string;
    const second: Json = await call(
      server,
      carol,
      'GET',
      `${V3}/notifications?limit=10&from=${token}`,
    );
    expect(listed(second)).toEqual(newestFirst.slice(10, 20));
    const third: Json = await call(
      server,
      carol,
      'GET',
      `${V3}/notifications?limit=10&from=${second['next_token']}`,
    );
    expect(listed(third)).toEqual(newestFirst.slice(20));
    expect(third['next_token']).toBeUndefined();

    // Carol reads the first room up to its first message: that one is read, its second is not.
    const [firstRoom] = roomIds;
    const [firstMessage] = messages;
    if (firstRoom === undefined || firstMessage === undefined) throw new Error('no rooms');
    await call(
      server,
      carol,
      'POST',
      `${V3}/rooms/${firstRoom}/receipt/m.read/${firstMessage}`,
      {},
    );
    const all: Json = await call(server, carol, 'GET', `${V3}/notifications?limit=30`);
    const readOnes = (all['notifications'] as Json[])
      .filter((n) => n['read'] === true)
      .map((n) => n['event']['event_id']);
    expect(readOnes).toEqual([firstMessage]);
    expect(all['notifications']).toHaveLength(24);
  });
});
