/**
 * Account data over real HTTP (spec client-server-api "Client Config"), its delivery through
 * `/sync` after a token, and `m.fully_read` read markers stored as room account data.
 */
import { parseJson } from '@weft/canonical-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

interface SyncBody {
  next_batch: string;
  account_data: { events: { type: string; content: Record<string, unknown> }[] };
  rooms: {
    join: Record<string, { account_data: { events: { type: string; content: unknown }[] } }>;
  };
}

describe('account data', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('stores global and room account data; unknown types are 404', async () => {
    const alice = await server.client.registerUser('alice');
    const token = alice.accessToken;
    const global = `${V3}/user/${enc(alice.userId)}/account_data/m.direct`;
    const missing = await server.client.request('GET', global, { token });
    expect(missing.status).toBe(404);
    expect(missing.body['errcode']).toBe('M_NOT_FOUND');
    expect(
      (await server.client.request('PUT', global, { token, body: { '@b:x': ['!r:x'] } })).status,
    ).toBe(200);
    expect((await server.client.request('GET', global, { token })).body).toEqual({
      '@b:x': ['!r:x'],
    });
    await server.client.request('PUT', global, { token, body: { '@c:x': [] } });
    expect((await server.client.request('GET', global, { token })).body).toEqual({ '@c:x': [] });

    const room = `${V3}/user/${enc(alice.userId)}/rooms/${enc('!room:test.local')}/account_data/m.tag`;
    await server.client.request('PUT', room, { token, body: { tags: { 'm.favourite': {} } } });
    expect((await server.client.request('GET', room, { token })).body).toEqual({
      tags: { 'm.favourite': {} },
    });
    // Room and global data of the same type are separate.
    const globalTag = `${V3}/user/${enc(alice.userId)}/account_data/m.tag`;
    expect((await server.client.request('GET', globalTag, { token })).status).toBe(404);
    expect(
      (
        await server.client.request(
          'GET',
          `/_matrix/client/r0/user/${enc(alice.userId)}/account_data/m.direct`,
          { token },
        )
      ).status,
    ).toBe(200);
  });

  it("refuses other users' data, server-controlled types, bad room IDs and non-objects", async () => {
    const bob = await server.client.registerUser('bob');
    const carol = await server.client.registerUser('carol');
    const token = bob.accessToken;
    const others = await server.client.request(
      'GET',
      `${V3}/user/${enc(carol.userId)}/account_data/m.direct`,
      { token },
    );
    expect(others.status).toBe(403);
    expect(others.body['errcode']).toBe('M_FORBIDDEN');
    const othersPut = await server.client.request(
      'PUT',
      `${V3}/user/${enc(carol.userId)}/account_data/x`,
      { token, body: {} },
    );
    expect(othersPut.status).toBe(403);
    for (const path of [
      `${V3}/user/${enc(bob.userId)}/account_data/m.push_rules`,
      `${V3}/user/${enc(bob.userId)}/account_data/m.fully_read`,
      `${V3}/user/${enc(bob.userId)}/rooms/${enc('!r:test.local')}/account_data/m.fully_read`,
    ]) {
      const refused = await server.client.request('PUT', path, { token, body: {} });
      expect(refused.status).toBe(405);
      expect(refused.body['errcode']).toBe('M_BAD_JSON');
    }
    const badRoom = await server.client.request(
      'PUT',
      `${V3}/user/${enc(bob.userId)}/rooms/not-a-room/account_data/x`,
      { token, body: {} },
    );
    expect(badRoom.status).toBe(400);
    expect(badRoom.body['errcode']).toBe('M_INVALID_PARAM');
    const notObject = await server.client.request(
      'PUT',
      `${V3}/user/${enc(bob.userId)}/account_data/x`,
      { token, rawBody: '[1]' },
    );
    expect(notObject.status).toBe(400);
    expect(notObject.body['errcode']).toBe('M_BAD_JSON');
    const notJson = await server.client.request(
      'PUT',
      `${V3}/user/${enc(bob.userId)}/account_data/x`,
      { token, rawBody: '{' },
    );
    expect(notJson.body['errcode']).toBe('M_NOT_JSON');
  });

  it('returns account data in the initial sync and only changes after a token', async () => {
    const dave = await server.client.registerUser('dave');
    const token = dave.accessToken;
    const path = (type: string) => `${V3}/user/${enc(dave.userId)}/account_data/${type}`;
    await server.client.request('PUT', path('org.example.a'), { token, body: { n: 1 } });
    const initial = await server.client.request<SyncBody>('GET', `${V3}/sync`, { token });
    const types = initial.body.account_data.events.map((e) => e.type);
    expect(types).toContain('org.example.a');
    // The push rules ruleset is account data too, present from the first sync.
    expect(types).toContain('m.push_rules');

    await server.client.request('PUT', path('org.example.b'), { token, body: { n: 2 } });
    const next = await server.client.request<SyncBody>(
      'GET',
      `${V3}/sync?since=${enc(initial.body.next_batch)}&timeout=0`,
      { token },
    );
    expect(next.body.account_data.events).toEqual([{ type: 'org.example.b', content: { n: 2 } }]);

    // A long-polling sync wakes up for an account data write.
    const waiting = server.client.request<SyncBody>(
      'GET',
      `${V3}/sync?since=${enc(next.body.next_batch)}&timeout=10000`,
      { token },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.client.request('PUT', path('org.example.a'), { token, body: { n: 3 } });
    const woken = await waiting;
    expect(woken.body.account_data.events).toEqual([{ type: 'org.example.a', content: { n: 3 } }]);

    const since = await server.services.accountData.accountDataSince(
      dave.userId,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    expect(since.map((c) => [c.type, c.content])).toEqual([
      ['org.example.b', { n: 2 }],
      ['org.example.a', { n: 3 }],
    ]);
  });

  it('stores m.fully_read read markers as room account data and syncs them per room', async () => {
    const erin = await server.client.registerUser('erin');
    const token = erin.accessToken;
    const created = await server.client.request('POST', `${V3}/createRoom`, { token, body: {} });
    const roomId = String(created.body['room_id']);
    const sent = await server.client.request(
      'PUT',
      `${V3}/rooms/${enc(roomId)}/send/m.room.message/t1`,
      {
        token,
        body: { msgtype: 'm.text', body: 'hi' },
      },
    );
    const eventId = String(sent.body['event_id']);
    const first = await server.client.request<SyncBody>('GET', `${V3}/sync`, { token });
    const markers = await server.client.request('POST', `${V3}/rooms/${enc(roomId)}/read_markers`, {
      token,
      body: { 'm.fully_read': eventId },
    });
    expect(markers.status).toBe(200);
    const stored = await server.client.request(
      'GET',
      `${V3}/user/${enc(erin.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`,
      { token },
    );
    expect(stored.body).toEqual({ event_id: eventId });
    const next = await server.client.request<SyncBody>(
      'GET',
      `${V3}/sync?since=${enc(first.body.next_batch)}&timeout=0`,
      { token },
    );
    expect(next.body.rooms.join[roomId]?.account_data.events).toEqual([
      { type: 'm.fully_read', content: { event_id: eventId } },
    ]);
  });

  it('keeps floats in account data, refuses integers beyond 2^53, and reads escaped keys right', async () => {
    const alice = await server.client.registerUser('floaty');
    const token = alice.accessToken;
    const path = `${V3}/user/${enc(alice.userId)}/account_data/org.example.layout`;
    const content = { widths: [0.25, 0.75], 'a\n': { order: 1.5e-3 }, 'b\t': 0.5, n: 3 };
    expect((await server.client.request('PUT', path, { token, body: content })).status).toBe(200);
    const stored = await fetch(server.url + path, {
      headers: { Authorization: `Bearer ${token}` },
    });
    // Read with the strict parser's float mode: this process's JSON.parse has V8's key bug.
    expect(parseJson(await stored.text(), { legacyNumbers: true })).toEqual(content);
    const sync = await fetch(`${server.url}${V3}/sync`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const synced = parseJson(await sync.text(), { legacyNumbers: true }) as SyncBody;
    expect(synced.account_data.events).toContainEqual({ type: 'org.example.layout', content });
    const big = await server.client.request('PUT', path, {
      token,
      rawBody: '{"n": 9007199254740993}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(big.status).toBe(400);
    expect(big.body['errcode']).toBe('M_BAD_JSON');
    const still = await server.client.request('GET', path, { token });
    expect(still.body['n']).toBe(3);
  });

  it('tags rooms: add with an order, list, remove; /sync carries them as m.tag', async () => {
    const alice = await server.client.registerUser('tagger');
    const bob = await server.client.registerUser('tagged');
    const token = alice.accessToken;
    const created = await server.client.request('POST', `${V3}/createRoom`, { token, body: {} });
    const roomId = String(created.body['room_id']);
    const tags = `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/tags`;
    expect((await server.client.request('GET', tags, { token })).body).toEqual({ tags: {} });
    const put = (tag: string, body: unknown) =>
      server.client.request('PUT', `${tags}/${enc(tag)}`, { token, body });
    expect((await put('m.favourite', { order: 0.5 })).status).toBe(200);
    expect((await put('u.work', {})).status).toBe(200);
    expect((await put('__proto__', { order: 1 })).status).toBe(200);
    expect((await server.client.request('GET', tags, { token })).body).toEqual({
      tags: { 'm.favourite': { order: 0.5 }, 'u.work': {}, ['__proto__']: { order: 1 } },
    });
    expect((await server.client.request('DELETE', `${tags}/m.favourite`, { token })).status).toBe(
      200,
    );
    const sync = await server.client.request<SyncBody>('GET', `${V3}/sync`, { token });
    expect(sync.body.rooms.join[roomId]?.account_data.events).toContainEqual({
      type: 'm.tag',
      content: { tags: { 'u.work': {}, ['__proto__']: { order: 1 } } },
    });

    // Keys a client wrote beside `tags` through the account data API survive a tag change.
    const tagData = `${V3}/user/${enc(alice.userId)}/rooms/${enc(roomId)}/account_data/m.tag`;
    await server.client.request('PUT', tagData, {
      token,
      body: { tags: { 'u.work': {} }, 'org.example.kept': 1 },
    });
    expect((await put('u.home', { order: 0.75 })).status).toBe(200);
    expect((await server.client.request('GET', tagData, { token })).body).toEqual({
      tags: { 'u.work': {}, 'u.home': { order: 0.75 } },
      'org.example.kept': 1,
    });

    const tooLong = await put('x'.repeat(256), {});
    expect([tooLong.status, tooLong.body['errcode']]).toEqual([400, 'M_INVALID_PARAM']);
    const badOrder = await put('u.work', { order: 'first' });
    expect([badOrder.status, badOrder.body['errcode']]).toEqual([400, 'M_BAD_JSON']);
    const other = await server.client.request(
      'PUT',
      `${V3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/tags/u.x`,
      {
        token,
        body: {},
      },
    );
    expect(other.status).toBe(403);
  });
});
