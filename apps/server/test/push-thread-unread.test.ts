/**
 * Unread counts per thread (spec client-server-api "Receiving notifications": the server
 * partitions the notification count per thread, the main timeline being its own thread; `/sync`
 * with the room timeline filter's `unread_thread_notifications`): a threaded read receipt reads
 * only its thread, a `main` one only the main timeline, an unthreaded one everything up to it;
 * without the flag `unread_notifications` counts every thread; the rooms of one `/sync` are
 * counted per thread in one statement. On SQLite and on PostgreSQL; the
 * `/sync` responses are checked against the spec's OpenAPI schema.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { postgresDatabases } from './postgres.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const THREADED = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });

/** The statements `work` runs through `server`'s database, counted. */
async function statementsOf(server: TestServer, work: () => Promise<unknown>): Promise<number> {
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

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['threadunread']);

describe('unread counts per thread, on SQLite', () => {
  threadUnreadSuite(() => ({}));
});
describe('unread counts per thread, on PostgreSQL', () => {
  threadUnreadSuite(on('threadunread'));
});

function threadUnreadSuite(options: () => TestServerOptions): void {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const spec = new ClientServerSpec();
  let txn = 0;

  beforeAll(async () => {
    server = await startTestServer(options());
    [alice, bob] = await registerUsers(server, ['alice', 'bob']);
  });
  afterAll(() => server.stop());

  async function reply(roomId: string, rootId: string, body: string): Promise<string> {
    const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/th${++txn}`;
    const content = {
      msgtype: 'm.text',
      body,
      'm.relates_to': { rel_type: 'm.thread', event_id: rootId },
    };
    return (await call(server, alice, 'PUT', path, content))['event_id'];
  }

  async function receipt(roomId: string, eventId: string, threadId?: string): Promise<void> {
    const path = `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`;
    await call(server, bob, 'POST', path, threadId === undefined ? {} : { thread_id: threadId });
  }

  /** Bob's room entry of an initial sync, with or without per-thread counts. */
  async function counts(roomId: string, threaded: boolean): Promise<Json> {
    const body = await sync(server, bob, threaded ? { filter: THREADED } : {});
    await spec.expectValid('GET', `${V3}/sync`, 200, body);
    const room = body['rooms']['join'][roomId];
    return {
      main: room['unread_notifications'],
      ...(room['unread_thread_notifications'] !== undefined
        ? { threads: room['unread_thread_notifications'] }
        : {}),
    };
  }

  const count = (n: number, h = 0) => ({ notification_count: n, highlight_count: h });

  /** Bob's `GET /notifications` entries of `roomId`, event ID → `read`. */
  async function readFlags(roomId: string): Promise<Record<string, boolean>> {
    const path = `${V3}/notifications?limit=100`;
    const body = await call(server, bob, 'GET', path);
    await spec.expectValid('GET', path, 200, body);
    return Object.fromEntries(
      (body['notifications'] as Json[])
        .filter((n) => n['room_id'] === roomId)
        .map((n) => [n['event']['event_id'], n['read']]),
    );
  }

  it('counts a thread apart and reads it with threaded receipts only', async () => {
    const roomId = await createRoom(server, alice, [bob]);
    const root = await sendText(server, alice, roomId, 'thread root');
    await receipt(roomId, root);
    const firstReply = await reply(roomId, root, 'reply one');
    await reply(roomId, root, 'reply two');
    const third = await reply(roomId, root, 'reply three');

    // The reviewer's scenario: three replies in thread $R.
    expect(await counts(roomId, true)).toEqual({ main: count(0), threads: { [root]: count(3) } });
    // Without the flag: every thread together, and no per-thread section.
    expect(await counts(roomId, false)).toEqual({ main: count(3) });

    const main = await sendText(server, alice, roomId, 'main timeline');
    expect(await counts(roomId, true)).toEqual({ main: count(1), threads: { [root]: count(3) } });
    expect(await counts(roomId, false)).toEqual({ main: count(4) });

    // A `main` receipt reads the main timeline only: the thread stays unread.
    await receipt(roomId, main, 'main');
    expect(await counts(roomId, true)).toEqual({ main: count(0), threads: { [root]: count(3) } });
    expect(await counts(roomId, false)).toEqual({ main: count(3) });
    // `GET /notifications` agrees: the thread's replies are still unread.
    expect(await readFlags(roomId)).toMatchObject({ [main]: true, [firstReply]: false });

    // A threaded receipt on the third reply reads the thread.
    await receipt(roomId, third, root);
    expect(await counts(roomId, true)).toEqual({ main: count(0) });
    expect(await counts(roomId, false)).toEqual({ main: count(0) });
    expect(await readFlags(roomId)).toMatchObject({
      [main]: true,
      [firstReply]: true,
      [third]: true,
    });
  });

  it('counts per thread with no statement a room whose unread rows are all main', async () => {
    const roomId = await createRoom(server, alice, [bob]);
    await sendText(server, alice, roomId, 'one');
    await sendText(server, alice, roomId, 'two');
    const push = server.services.push;
    const at = Number.MAX_SAFE_INTEGER;
    let unread: unknown;
    // Known from bob's join and the main-timeline rows since: no per-thread count.
    const statements = await statementsOf(server, async () => {
      unread = (await push.unreadNotificationsOfRooms(bob.userId, [roomId], at, true)).get(roomId);
    });
    expect(unread).toEqual(count(2));
    expect(statements).toBe(0);
    // A reply in a thread: counted per thread again.
    const root = await sendText(server, alice, roomId, 'root');
    const inThread = await reply(roomId, root, 'in the thread');
    expect(
      (await push.unreadNotificationsOfRooms(bob.userId, [roomId], at, true)).get(roomId),
    ).toEqual({
      ...count(3),
      threads: { [root]: count(1) },
    });
    expect(await counts(roomId, true)).toEqual({ main: count(3), threads: { [root]: count(1) } });
    // Read: a recount finds no thread rows left, and the next count runs no statement.
    await receipt(roomId, inThread);
    await sendText(server, alice, roomId, 'three');
    const after = await statementsOf(server, async () => {
      unread = (await push.unreadNotificationsOfRooms(bob.userId, [roomId], at, true)).get(roomId);
    });
    expect(unread).toEqual(count(1));
    expect(after).toBe(0);
  });

  it('reads every thread with an unthreaded receipt, and a threaded one only its own', async () => {
    const roomId = await createRoom(server, alice, [bob]);
    const first = await sendText(server, alice, roomId, 'first root');
    const second = await sendText(server, alice, roomId, 'second root');
    await receipt(roomId, second);
    const inFirst = await reply(roomId, first, 'in the first thread');
    const mention = `${V3}/rooms/${enc(roomId)}/send/m.room.message/th${++txn}`;
    await call(server, alice, 'PUT', mention, {
      msgtype: 'm.text',
      body: 'bob, in the second thread',
      'm.mentions': { user_ids: [bob.userId] },
      'm.relates_to': { rel_type: 'm.thread', event_id: second },
    });
    const last = await sendText(server, alice, roomId, 'main again');
    expect(await counts(roomId, true)).toEqual({
      main: count(1),
      threads: { [first]: count(1), [second]: count(1, 1) },
    });
    // A threaded receipt reads its own thread, not another one later in the stream.
    await receipt(roomId, inFirst, first);
    expect(await counts(roomId, true)).toEqual({
      main: count(1),
      threads: { [second]: count(1, 1) },
    });
    expect(await counts(roomId, false)).toEqual({ main: count(2, 1) });
    await receipt(roomId, last);
    expect(await counts(roomId, true)).toEqual({ main: count(0) });
    expect(await counts(roomId, false)).toEqual({ main: count(0) });
  });

  it('counts the threads of every room of one /sync in one statement', async () => {
    const rooms: { roomId: string; root: string }[] = [];
    for (const n of [1, 2]) {
      const roomId = await createRoom(server, alice, [bob]);
      const root = await sendText(server, alice, roomId, `root ${n}`);
      await receipt(roomId, root);
      // Two replies in the first room's thread, one in the second's, and a main message each.
      for (let i = 0; i < 3 - n; i++) await reply(roomId, root, `reply ${i}`);
      await sendText(server, alice, roomId, `main ${n}`);
      rooms.push({ roomId, root });
    }
    const [first, second] = rooms as [(typeof rooms)[0], (typeof rooms)[0]];
    // The per-thread counts read the shared push rows: one statement for both rooms.
    const db = server.services.ctx.db;
    const query = db.query.bind(db);
    let perThreadStatements = 0;
    db.query = ((sql, params) => {
      if (sql.includes('FROM push_room_actions') || sql.includes('JOIN push_room_actions')) {
        perThreadStatements++;
      }
      return query(sql, params);
    }) as typeof db.query;
    let body: Json;
    try {
      body = await sync(server, bob, { filter: THREADED });
    } finally {
      db.query = query;
    }
    await spec.expectValid('GET', `${V3}/sync`, 200, body);
    const join = body['rooms']['join'];
    expect(join[first.roomId]['unread_notifications']).toEqual(count(1));
    expect(join[first.roomId]['unread_thread_notifications']).toEqual({ [first.root]: count(2) });
    expect(join[second.roomId]['unread_notifications']).toEqual(count(1));
    expect(join[second.roomId]['unread_thread_notifications']).toEqual({
      [second.root]: count(1),
    });
    expect(perThreadStatements).toBe(1);
    // Each room alone answers the same.
    expect(await counts(first.roomId, true)).toEqual({
      main: count(1),
      threads: { [first.root]: count(2) },
    });
    expect(await counts(second.roomId, true)).toEqual({
      main: count(1),
      threads: { [second.root]: count(1) },
    });
  });
}
