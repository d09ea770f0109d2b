/**
 * Guards the delivery property of `/sync` long-polling (services/sync/service.ts with its range
 * cache and "nothing new for this user" fast path, services/core/notifier.ts): under concurrent
 * sends, every timeline event a client is entitled to appears in exactly one of its incremental
 * syncs, in the room's stream order — no gaps, no duplicates. Ephemeral traffic (typing,
 * receipts, to-device) runs alongside so wake-ups come from every source.
 *
 * No timing is asserted: listeners stop once a response's token reaches the stream position
 * read after the last send, which they must reach however slowly the server answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

const ROOMS = 3;
const LISTENERS = 12;
const SENDERS = 4;
/** Concurrent send loops per sender. */
const LANES = 3;
/** Above any backlog, so a `limited` timeline (a legitimate gap) cannot occur. */
const FILTER = JSON.stringify({ room: { timeline: { limit: 1000 } } });

/** The stream position of a `next_batch` token (`s<position>_<typing>_<to-device>`). */
function positionOf(token: string): number {
  const match = /^s(\d+)_/.exec(token);
  if (match?.[1] === undefined) throw new Error(`unexpected sync token ${token}`);
  return Number(match[1]);
}

async function syncOnce(server: TestServer, user: TestUser, params: Record<string, string>) {
  const query = new URLSearchParams({ filter: FILTER, ...params });
  return call(server, user, 'GET', `/_matrix/client/v3/sync?${query}`);
}

/** The message event IDs of `roomId` in stream order, read with `/messages` backwards. */
async function roomOrder(server: TestServer, user: TestUser, roomId: string): Promise<string[]> {
  const ids: string[] = [];
  let from: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ dir: 'b', limit: '500' });
    if (from !== undefined) query.set('from', from);
    const page = await call(
      server,
      user,
      'GET',
      `/_matrix/client/v3/rooms/${roomId}/messages?${query}`,
    );
    for (const event of page['chunk'] as Json[]) {
      if (event['type'] === 'm.room.message') ids.push(event['event_id']);
    }
    if (page['end'] === undefined || (page['chunk'] as Json[]).length === 0) break;
    from = page['end'];
  }
  return ids.reverse();
}

/** The scenario against a server started with `options`; each sender sends `messages` messages. */
function deliverySuite(options: () => TestServerOptions, messages: number): void {
  let server: TestServer;
  let senders: TestUser[];
  let listeners: TestUser[];
  const rooms: string[] = [];
  /** Rooms each listener is joined to. */
  const roomsOf = new Map<TestUser, string[]>();

  beforeAll(async () => {
    server = await startTestServer(options());
    const register = (name: string) => server.client.registerUser(name);
    senders = [];
    for (let i = 0; i < SENDERS; i++) senders.push(await register(`sender${i}`));
    listeners = [];
    for (let i = 0; i < LISTENERS; i++) listeners.push(await register(`listener${i}`));
    for (let r = 0; r < ROOMS; r++) {
      // Listener i is in room i % ROOMS, and every third listener also in the next room.
      const members = [
        ...senders.slice(1),
        ...listeners.filter((_, i) => i % ROOMS === r || (i % 3 === 0 && (i + 1) % ROOMS === r)),
      ];
      rooms.push(await createRoom(server, senders[0] as TestUser, members));
    }
    for (const [i, listener] of listeners.entries()) {
      const mine = [rooms[i % ROOMS] as string];
      if (i % 3 === 0) mine.push(rooms[(i + 1) % ROOMS] as string);
      roomsOf.set(listener, mine);
    }
  }, 60_000);
  afterAll(() => server.stop());

  it('delivers every room event exactly once (initial sync or one incremental sync), in stream order, to every member', async () => {
    // Even listeners take their initial sync before any message is sent; odd ones take it while
    // messages are being sent (after a growing number of sends), so their initial sync must
    // hold exactly the events up to its token and their incremental syncs the rest.
    const seen = new Map<TestUser, Map<string, string[]>>();
    let sentCount = 0;
    const sendProgress: (() => void)[] = [];
    const afterSends = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (sentCount >= count) resolve();
          else sendProgress.push(check);
        };
        check();
      });
    const record = (byRoom: Map<string, string[]>, body: Json) => {
      for (const [roomId, room] of Object.entries((body['rooms']?.['join'] ?? {}) as Json)) {
        expect(room['timeline']['limited'], `limited timeline in ${roomId}`).not.toBe(true);
        const ids = byRoom.get(roomId) ?? [];
        for (const event of room['timeline']['events'] as Json[]) {
          if (event['type'] === 'm.room.message') ids.push(event['event_id']);
        }
        byRoom.set(roomId, ids);
      }
    };
    const early = new Map<TestUser, string>();
    for (const [index, listener] of listeners.entries()) {
      seen.set(listener, new Map());
      if (index % 2 === 0) {
        const initial = await syncOnce(server, listener, {});
        record(seen.get(listener) as Map<string, string[]>, initial);
        early.set(listener, initial['next_batch']);
      }
    }

    let target = Number.POSITIVE_INFINITY;
    const listen = async (listener: TestUser, index: number) => {
      const byRoom = seen.get(listener) as Map<string, string[]>;
      let since = early.get(listener);
      if (since === undefined) {
        // Spread over the first ~40% of the sends.
        await afterSends(Math.floor((index * SENDERS * messages) / (2.5 * LISTENERS)));
        const initial = await syncOnce(server, listener, {});
        record(byRoom, initial);
        since = initial['next_batch'] as string;
      }
      while (positionOf(since) < target) {
        // Two listeners poll with a short timeout, so their syncs often start mid-write.
        const timeout = index < 2 ? '20' : '1000';
        const body = await syncOnce(server, listener, { since, timeout });
        record(byRoom, body);
        since = body['next_batch'] as string;
      }
    };

    let txn = 0;
    const send = async (sender: TestUser, index: number, lane: number) => {
      for (let n = lane; n < messages; n += LANES) {
        const roomId = rooms[(index + n) % ROOMS] as string;
        const path = `/_matrix/client/v3/rooms/${roomId}`;
        const sent = await call(server, sender, 'PUT', `${path}/send/m.room.message/d${++txn}`, {
          msgtype: 'm.text',
          body: `${sender.userId} ${n}`,
        });
        sentCount++;
        for (const waiter of sendProgress.splice(0)) waiter();
        // Interleave the other wake-up sources: typing (no stream position), receipts and
        // to-device messages (stream positions that touch no timeline).
        if (n % 5 === 0) {
          await call(server, sender, 'PUT', `${path}/typing/${encodeURIComponent(sender.userId)}`, {
            typing: n % 10 === 0,
            timeout: 5000,
          });
        }
        if (n % 7 === 0) {
          await call(server, sender, 'POST', `${path}/receipt/m.read/${sent['event_id']}`, {});
        }
        if (n % 11 === 0) {
          const to = listeners[(index + n) % LISTENERS] as TestUser;
          await call(server, sender, 'PUT', `/_matrix/client/v3/sendToDevice/m.test/d${++txn}`, {
            messages: { [to.userId]: { [to.deviceId]: { n } } },
          });
        }
      }
    };

    const listening = listeners.map(listen);
    // Each sender has several requests in flight, so writes overlap syncs and each other.
    await Promise.all(
      senders.flatMap((sender, index) =>
        Array.from({ length: LANES }, (_, lane) => send(sender, index, lane)),
      ),
    );
    // Everything sent is committed now: listeners stop once their token has reached it.
    const probe = await syncOnce(server, senders[0] as TestUser, {});
    target = positionOf(probe['next_batch']);
    // A sync that was already waiting ends by its timeout at the latest; wake the rest now.
    await call(
      server,
      senders[0] as TestUser,
      'PUT',
      `/_matrix/client/v3/rooms/${rooms[0]}/typing/${encodeURIComponent((senders[0] as TestUser).userId)}`,
      { typing: false },
    );
    await Promise.all(listening);

    const order = new Map<string, string[]>();
    for (const roomId of rooms)
      order.set(roomId, await roomOrder(server, senders[0] as TestUser, roomId));
    expect([...order.values()].reduce((sum, ids) => sum + ids.length, 0)).toBe(SENDERS * messages);
    for (const listener of listeners) {
      const byRoom = seen.get(listener) as Map<string, string[]>;
      for (const roomId of roomsOf.get(listener) as string[]) {
        expect(byRoom.get(roomId) ?? [], `${listener.userId} in ${roomId}`).toEqual(
          order.get(roomId),
        );
      }
      // Nothing from rooms the listener is not in.
      expect([...byRoom.keys()].every((id) => roomsOf.get(listener)?.includes(id))).toBe(true);
    }
  }, 60_000);
}

describe('sync delivery under concurrent sends (services/sync/service.ts)', () => {
  describe('on SQLite', () => deliverySuite(() => ({}), 60));

  // PostgreSQL runs writers on several pooled connections at once: the stream's commit order
  // (positions taken under the stream row's lock) is what keeps the ranges gap-free there.
  describe('on PostgreSQL', () => {
    // Registered before the suite's hooks: the cluster starts first and stops after the server.
    const on = postgresDatabases(['delivery']);
    // Fewer messages: each commit waits for PostgreSQL's fsync.
    deliverySuite(on('delivery'), 24);
  });
});
