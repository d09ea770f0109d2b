/**
 * Presence timeouts (spec client-server-api "Presence", "Idle timeout"): a user whose syncs
 * stop goes offline, an inactive one goes unavailable, sending brings them back, and
 * `last_active_ago` / `currently_active` are as of when presence is served. With an injected
 * clock; the sweep is run by hand.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { IDLE_TIMEOUT_MS, SYNC_ONLINE_TIMEOUT_MS } from '../src/services/presence/service.ts';
import { type RegisteredUser, TestClient } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('presence timeouts', () => {
  let now = Date.now();
  let server: Awaited<ReturnType<typeof startServer>>;
  let client: TestClient;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  let roomId: string;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-presence-idle-'));
    const config = buildConfig(
      { rate_limit: { per_second: 10_000, burst: 10_000 } },
      { dataDir, listen: '127.0.0.1:0', serverName: 'test.local' },
    );
    server = await startServer(config, { log: silentLog, now: () => now });
    client = new TestClient(server.url);
    alice = await client.registerUser('alice');
    bob = await client.registerUser('bob');
    const created = await client.request('POST', `${V3}/createRoom`, {
      token: alice.accessToken,
      body: { preset: 'public_chat' },
    });
    roomId = created.body['room_id'] as string;
    await client.request('POST', `${V3}/join/${enc(roomId)}`, { token: bob.accessToken, body: {} });
  });
  afterAll(() => server.stop());

  const presenceOf = async (user: RegisteredUser) => {
    const read = await client.request('GET', `${V3}/presence/${enc(user.userId)}/status`, {
      token: bob.accessToken,
    });
    expect(read.status).toBe(200);
    return read.body;
  };

  it('goes offline once the syncs stop; last_active_ago is as of now', async () => {
    const synced = await client.request('GET', `${V3}/sync?timeout=0`, {
      token: alice.accessToken,
    });
    expect(synced.status).toBe(200);
    expect(await presenceOf(alice)).toMatchObject({ presence: 'online', currently_active: true });

    now += 20_000;
    await server.services.presence.sweep();
    const still = await presenceOf(alice);
    expect(still).toMatchObject({ presence: 'online' });
    expect(still['last_active_ago']).toBeGreaterThanOrEqual(20_000);

    const bobSync = await client.request('GET', `${V3}/sync?timeout=0`, { token: bob.accessToken });
    const since = bobSync.body['next_batch'] as string;
    now += SYNC_ONLINE_TIMEOUT_MS + 15_000;
    await server.services.presence.sweep();
    const gone = await presenceOf(alice);
    expect(gone).toMatchObject({ presence: 'offline', currently_active: false });
    expect(gone['last_active_ago']).toBeGreaterThanOrEqual(SYNC_ONLINE_TIMEOUT_MS + 35_000);
    // Announced: bob's next sync has alice's change.
    const next = await client.request('GET', `${V3}/sync?timeout=0&since=${since}`, {
      token: bob.accessToken,
    });
    const events = (next.body['presence'] as { events: Record<string, unknown>[] }).events;
    expect(events.find((event) => event['sender'] === alice.userId)).toMatchObject({
      content: { presence: 'offline' },
    });
  });

  it('goes unavailable without activity while present; sending brings them back', async () => {
    await client.request('PUT', `${V3}/presence/${enc(alice.userId)}/status`, {
      token: alice.accessToken,
      body: { presence: 'online', status_msg: 'here' },
    });
    // A sync in flight that does not count as activity keeps alice from going offline.
    const ended = server.services.presence.syncStarted(alice.userId, 'unavailable');
    now += 2 * 60_000;
    await server.services.presence.sweep();
    const quiet = await presenceOf(alice);
    expect(quiet).toMatchObject({ presence: 'online', currently_active: false });
    expect(quiet['last_active_ago']).toBeGreaterThanOrEqual(2 * 60_000);

    now += IDLE_TIMEOUT_MS;
    await server.services.presence.sweep();
    const idle = await presenceOf(alice);
    expect(idle).toMatchObject({ presence: 'unavailable', status_msg: 'here' });
    expect(idle['last_active_ago']).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS + 2 * 60_000);

    const sent = await client.request(
      'PUT',
      `${V3}/rooms/${enc(roomId)}/send/m.room.message/idle-1`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'back' } },
    );
    expect(sent.status).toBe(200);
    await expect.poll(async () => (await presenceOf(alice))['presence']).toBe('online');
    const back = await presenceOf(alice);
    expect(back).toMatchObject({ currently_active: true, status_msg: 'here' });
    expect(back['last_active_ago']).toBeLessThan(1_000);
    ended();
  });

  it('goes unavailable while it keeps syncing without sending, and stays so until it sends', async () => {
    const sync = async () => {
      const synced = await client.request('GET', `${V3}/sync?timeout=0`, {
        token: alice.accessToken,
      });
      expect(synced.status).toBe(200);
    };
    await sync();
    expect(await presenceOf(alice)).toMatchObject({ presence: 'online' });
    // A sync of an online user is no activity: an open client idles.
    for (let minute = 0; minute < 6; minute++) {
      now += 60_000;
      await sync();
      await server.services.presence.sweep();
    }
    const idle = await presenceOf(alice);
    expect(idle).toMatchObject({ presence: 'unavailable', currently_active: false });
    expect(idle['last_active_ago']).toBeGreaterThan(IDLE_TIMEOUT_MS);
    // Syncing on (set_presence online) does not bring the idle user back online.
    now += 60_000;
    await sync();
    await server.services.presence.sweep();
    expect(await presenceOf(alice)).toMatchObject({ presence: 'unavailable' });

    const sent = await client.request(
      'PUT',
      `${V3}/rooms/${enc(roomId)}/send/m.room.message/idle-2`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'back again' } },
    );
    expect(sent.status).toBe(200);
    await expect.poll(async () => (await presenceOf(alice))['presence']).toBe('online');
  });
});
