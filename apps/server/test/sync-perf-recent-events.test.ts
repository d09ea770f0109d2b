/**
 * Rooms' latest timeline events kept in memory for woken `/sync`s (services/sync/recent-events.ts):
 * the list answers only for ranges it fully covers, and the syncs it serves carry the same
 * timelines as the database would give — through a burst longer than the list and a limited
 * timeline.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RecentRoomEvents } from '../src/services/sync/recent-events.ts';
import { startTestServer, type TestServer } from './harness.ts';
import {
  call,
  createRoom,
  type Json,
  messageBodies,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

describe('RecentRoomEvents', () => {
  it('lists a room’s events in a range it covers and declines ranges it does not', () => {
    const recent = new RecentRoomEvents();
    expect(recent.between('!a', 0, 10)).toBeUndefined();
    recent.add('!a', 5, '$5');
    recent.add('!b', 6, '$6');
    recent.add('!a', 7, '$7');
    expect(recent.between('!a', 0, 10)).toEqual(['$5', '$7']);
    expect(recent.between('!a', 5, 6)).toEqual([]);
    expect(recent.between('!a', 5, 7)).toEqual(['$7']);
    // Past 32 events the oldest go, and ranges reaching below them are declined.
    for (let position = 8; position < 48; position++) recent.add('!a', position, `$${position}`);
    expect(recent.between('!a', 0, 100)).toBeUndefined();
    expect(recent.between('!a', 15, 100)).toEqual(
      Array.from({ length: 32 }, (_, i) => `$${16 + i}`),
    );
    expect(recent.between('!a', 14, 100)).toBeUndefined();
  });

  it('counts a room’s events after a position, 0 for a room it never saw, and declines the rest', () => {
    const recent = new RecentRoomEvents();
    expect(recent.countAfter('!never', 0)).toBe(0);
    recent.add('!a', 5, '$5');
    recent.add('!a', 7, '$7');
    expect(recent.countAfter('!a', 0)).toBe(2);
    expect(recent.countAfter('!a', 5)).toBe(1);
    expect(recent.countAfter('!a', 7)).toBe(0);
    for (let position = 8; position < 48; position++) recent.add('!a', position, `$${position}`);
    expect(recent.countAfter('!a', 15)).toBe(32);
    expect(recent.countAfter('!a', 14)).toBeUndefined();
  });
});

describe('woken syncs served from the recent-events list', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    roomId = await createRoom(server, alice, [bob]);
  });
  afterAll(() => server.stop());

  /** A long-poll's token after everything so far (so the next range holds room changes only). */
  async function settled(filter?: string): Promise<string> {
    const params = filter === undefined ? {} : { filter };
    const first = (await sync(server, bob, { ...params, timeout: 0 }))['next_batch'];
    return (await sync(server, bob, { ...params, since: first, timeout: 0 }))['next_batch'];
  }

  it('carries every message of a burst, in order, one long-poll after another', async () => {
    // The default timeline limit (10) is below the burst: a paced answer
    // (sync.answer_interval_ms) goes out once a room holds that many, so none is `limited`.
    let token = await settled();
    const sent = Array.from({ length: 40 }, (_, i) => `burst ${i}`);
    const sending = (async () => {
      for (const body of sent) await sendText(server, alice, roomId, body);
    })();
    const seen: string[] = [];
    while (seen.length < sent.length) {
      const body: Json = await sync(server, bob, { since: token, timeout: 10_000 });
      token = body['next_batch'];
      const timeline = body['rooms']['join'][roomId]?.['timeline'];
      if (timeline !== undefined) expect(timeline['limited']).toBe(false);
      seen.push(...messageBodies(timeline));
    }
    await sending;
    expect(seen).toEqual(sent);
  });

  it('still lists a newly joined member under device_lists.changed', async () => {
    const carol = await server.client.registerUser('carol');
    await call(
      server,
      alice,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`,
      {
        user_id: carol.userId,
      },
    );
    const token = await settled();
    const waiting = sync(server, bob, { since: token, timeout: 10_000 });
    await call(server, carol, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    const body = await waiting;
    expect(body['device_lists']['changed']).toContain(carol.userId);
    // A plain message afterwards changes no device list.
    const next = sync(server, bob, { since: body['next_batch'], timeout: 10_000 });
    await sendText(server, alice, roomId, 'after the join');
    expect((await next)['device_lists']).toEqual({ changed: [], left: [] });
  });

  it('limits a timeline and gives a prev_batch that pages to the rest', async () => {
    const filter = JSON.stringify({ room: { timeline: { limit: 3 } } });
    const token = await settled(filter);
    // More than the list keeps: the range reaches below it, so the database answers; then a
    // range inside it, which memory answers. Both must give the same shape.
    for (const [count, label] of [
      [40, 'long'],
      [5, 'short'],
    ] as const) {
      const since = count === 40 ? token : await settled(filter);
      for (let i = 0; i < count; i++) await sendText(server, alice, roomId, `${label} ${i}`);
      const body = await sync(server, bob, { since, filter, timeout: 10_000 });
      const timeline = body['rooms']['join'][roomId]['timeline'];
      expect(messageBodies(timeline)).toEqual(
        [count - 3, count - 2, count - 1].map((i) => `${label} ${i}`),
      );
      expect(timeline['limited']).toBe(true);
      const page = await server.client.request<Json>(
        'GET',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1&from=${timeline['prev_batch']}`,
        { token: bob.accessToken },
      );
      expect(messageBodies({ events: page.body['chunk'] })).toEqual([`${label} ${count - 4}`]);
    }
  });
});
