/**
 * The SDK against a real Weft server when things go wrong around a sync: a `limited` timeline
 * after a long offline period, a failed /keys/query while a room key arrives, a partial
 * /keys/query answer, a revoked access token, and two processes opening one store.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { ClientError, type ClientWarning, WeftClient } from '../src/index.ts';
import { LocalStore } from '../src/sdk/local-store.ts';
import { startWebServer } from '../src/web/server.ts';
import { newClient, PASSPHRASE, readable, syncAll, tempDir } from './helpers.ts';

let server: TestServer;
const realFetch = globalThis.fetch;
/** A hook that sees every request of the clients and may answer it instead of the server. */
let hook:
  | ((url: string, init: RequestInit | undefined) => Promise<Response | undefined> | undefined)
  | undefined;

beforeAll(async () => {
  server = await startTestServer();
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    const answer = await hook?.(url, init);
    return answer ?? realFetch(input, init);
  }) as typeof fetch;
});
afterEach(() => {
  hook = undefined;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await server.stop();
});

async function room(alice: WeftClient, bob: WeftClient, policy: 'epoch' | null = 'epoch') {
  const roomId = await alice.createRoom({ policy, invite: [bob.userId] });
  await syncAll(alice, bob);
  await bob.join(roomId);
  await syncAll(alice, bob);
  return roomId;
}

describe('a limited sync after a long offline period', () => {
  it('fills the gap: every message is present, in order', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'gap-alice');
    const bob = await newClient(server.url, dir, 'gap-bob');
    const roomId = await room(alice, bob);
    await alice.sendText(roomId, 'before 1');
    await alice.sendText(roomId, 'before 2');
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['before 1', 'before 2']);
    // bob is offline while far more than the sync's timeline limit (10) is sent.
    const sent = Array.from({ length: 25 }, (_, i) => `offline ${i}`);
    for (const body of sent) await alice.sendText(roomId, body);
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['before 1', 'before 2', ...sent]);
    // Loading older history continues before what was held, not across the gap again.
    while ((await bob.loadOlder(roomId, 10)) > 0);
    expect(readable(bob, roomId)).toEqual(['before 1', 'before 2', ...sent]);
    // And a restart restores the same timeline from the store.
    await bob.close();
    const again = WeftClient.open({
      storePath: join(dir, 'gap-bob.db'),
      passphrase: PASSPHRASE,
    });
    expect(readable(again, roomId)).toEqual(['before 1', 'before 2', ...sent]);
    await again.close();
    await alice.close();
  });
});

describe('a gap the sync cannot fill', () => {
  it('a /messages that answers 403 does not stop the sync; loadOlder fills the gap later', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'gap403-alice');
    const bob = await newClient(server.url, dir, 'gap403-bob');
    const roomId = await room(alice, bob);
    await alice.sendText(roomId, 'before');
    await bob.syncOnce(0);
    const sent = Array.from({ length: 15 }, (_, i) => `offline ${i}`);
    for (const body of sent) await alice.sendText(roomId, body);
    hook = (url) =>
      url.includes('/messages')
        ? Promise.resolve(
            Response.json({ errcode: 'M_FORBIDDEN', error: 'not allowed' }, { status: 403 }),
          )
        : undefined;
    await bob.syncOnce(0);
    // The sync went on: the newest events are there and the next sync starts after them.
    expect(readable(bob, roomId)).toEqual(['before', ...sent.slice(-10)]);
    await alice.sendText(roomId, 'after');
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['before', ...sent.slice(-10), 'after']);
    hook = undefined;
    while ((await bob.loadOlder(roomId, 10)) > 0);
    expect(readable(bob, roomId)).toEqual(['before', ...sent, 'after']);
    await bob.close();
    await alice.close();
  });

  it('a gap in a room the user has left does not stop the sync', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'gapleft-alice');
    const bob = await newClient(server.url, dir, 'gapleft-bob');
    const roomId = await room(alice, bob, null);
    const other = await alice.createRoom({ policy: null, invite: [bob.userId] });
    await syncAll(alice, bob);
    await bob.join(other);
    await alice.sendText(roomId, 'before');
    await bob.syncOnce(0);
    for (let i = 0; i < 15; i++) await alice.sendText(roomId, `offline ${i}`);
    await bob.leave(roomId);
    await alice.sendText(other, 'elsewhere');
    await bob.syncOnce(0);
    expect(readable(bob, other)).toContain('elsewhere');
    await alice.sendText(other, 'next');
    await bob.syncOnce(0);
    expect(readable(bob, other)).toContain('next');
    await bob.close();
    await alice.close();
  });

  it('a gap longer than the page limit is filled up to it; loadOlder completes it in order', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'gapcap-alice');
    const bob = await newClient(server.url, dir, 'gapcap-bob');
    const roomId = await room(alice, bob);
    await alice.sendText(roomId, 'before');
    await bob.syncOnce(0);
    const sent = Array.from({ length: 25 }, (_, i) => `offline ${i}`);
    for (const body of sent) await alice.sendText(roomId, body);
    // Pages of 1 event: the limit of 10 pages leaves 5 of the 15 missing events unfilled.
    hook = (url, init) =>
      url.includes('/messages') ? realFetch(url.replace(/limit=\d+/, 'limit=1'), init) : undefined;
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['before', ...sent.slice(5)]);
    hook = undefined;
    while ((await bob.loadOlder(roomId, 2)) > 0);
    expect(readable(bob, roomId)).toEqual(['before', ...sent]);
    // A restart restores the same timeline.
    await bob.close();
    const again = WeftClient.open({
      storePath: join(dir, 'gapcap-bob.db'),
      passphrase: PASSPHRASE,
    });
    expect(readable(again, roomId)).toEqual(['before', ...sent]);
    await again.close();
    await alice.close();
  });
});

describe('a network error while checking a room key sender', () => {
  it('keeps the key: the to-device message is delivered again and decrypts', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'net-alice');
    const bob = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'net-bob.db'),
      passphrase: PASSPHRASE,
      retry: { maxAttempts: 1 },
    });
    await bob.register('net-bob', 'password of net-bob');
    const roomId = await room(alice, bob);
    // alice's new device: bob learns of it only from the key it sends.
    const alice2 = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'net-alice2.db'),
      passphrase: PASSPHRASE,
    });
    await alice2.login('net-alice', 'password of net-alice');
    await alice2.syncOnce(0);
    await alice2.sendText(roomId, 'from the new device');
    let failed = 0;
    hook = async (url) => {
      if (url.includes('/keys/query')) {
        failed += 1;
        throw new TypeError('fetch failed');
      }
      return undefined;
    };
    await bob.syncOnce(0).catch(() => undefined);
    expect(failed).toBeGreaterThan(0);
    hook = undefined;
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['from the new device']);
    await Promise.all([alice.close(), alice2.close(), bob.close()]);
  });
});

describe('a partial /keys/query answer', () => {
  it("keeps the user's known devices and asks again later", async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'pq-alice');
    const bob = await newClient(server.url, dir, 'pq-bob');
    const roomId = await room(alice, bob);
    await alice.sendText(roomId, 'one');
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['one']);
    // bob's new device makes his device list outdated for alice.
    const bob2 = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'pq-bob2.db'),
      passphrase: PASSPHRASE,
    });
    await bob2.login('pq-bob', 'password of pq-bob');
    await syncAll(bob2, alice);
    // The answer leaves bob out: his server failed.
    let partial = 0;
    hook = async (url, init) => {
      if (!url.includes('/keys/query')) return undefined;
      partial += 1;
      const real = (await (await realFetch(url, init)).json()) as {
        device_keys: Record<string, unknown>;
      };
      delete real.device_keys[bob.userId];
      return Response.json({ ...real, failures: { 'test.local': { status: 503 } } });
    };
    await alice.sendText(roomId, 'two');
    hook = undefined;
    expect(partial).toBe(1);
    await bob.syncOnce(0);
    expect(readable(bob, roomId)).toEqual(['one', 'two']);
    // Still outdated: the next message queries again and reaches bob's new device too.
    await alice.sendText(roomId, 'three');
    await syncAll(bob, bob2);
    expect(readable(bob, roomId)).toEqual(['one', 'two', 'three']);
    expect(readable(bob2, roomId)).toContain('three');
    await Promise.all([alice.close(), bob.close(), bob2.close()]);
  });
});

describe('a revoked access token', () => {
  async function loggedOut(client: WeftClient): Promise<ClientWarning> {
    return new Promise<ClientWarning>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the sync loop did not stop')), 8_000);
      client.onWarning((w) => {
        if (w.code === 'logged-out') {
          clearTimeout(timer);
          resolve(w);
        }
      });
    });
  }

  it('stops the sync loop with a logged-out warning and clears the session', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'lo-alice');
    await alice.syncOnce(0);
    // Another session of alice logs every device out.
    const other = (await (
      await realFetch(`${server.url}/_matrix/client/v3/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'lo-alice' },
          password: 'password of lo-alice',
        }),
      })
    ).json()) as { access_token: string };
    const out = await realFetch(`${server.url}/_matrix/client/v3/logout/all`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${other.access_token}`,
        'Content-Type': 'application/json',
      },
      body: '{}',
    });
    expect(out.status).toBe(200);
    const warned = loggedOut(alice);
    alice.startSync(0);
    const warning = await warned;
    expect(warning).toMatchObject({ code: 'logged-out', softLogout: false });
    await alice.stopSync();
    expect(alice.loggedIn).toBe(false);
    await expect(alice.syncOnce(0)).rejects.toMatchObject({ code: 'not-logged-in' });
    await alice.close();
    // The store no longer holds the dead session; a new login works with the same store.
    const again = WeftClient.open({ storePath: join(dir, 'lo-alice.db'), passphrase: PASSPHRASE });
    expect(again.loggedIn).toBe(false);
    expect(again.homeserver).toBe(server.url);
    await again.login('lo-alice', 'password of lo-alice');
    await again.syncOnce(0);
    expect(again.loggedIn).toBe(true);
    await again.close();
  });

  it('soft logout keeps the device: a new login continues as the same device', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'so-alice');
    const deviceId = alice.deviceId;
    hook = async (url) =>
      url.includes('/sync')
        ? Response.json(
            { errcode: 'M_UNKNOWN_TOKEN', error: 'expired', soft_logout: true },
            {
              status: 401,
            },
          )
        : undefined;
    await expect(alice.syncOnce(0)).rejects.toMatchObject({ code: 'logged-out' });
    hook = undefined;
    expect(alice.warnings().at(-1)).toMatchObject({ code: 'logged-out', softLogout: true });
    await alice.close();
    const again = WeftClient.open({ storePath: join(dir, 'so-alice.db'), passphrase: PASSPHRASE });
    expect(again.loggedIn).toBe(false);
    await again.login('so-alice', 'password of so-alice');
    expect(again.deviceId).toBe(deviceId);
    await again.syncOnce(0);
    await again.close();
  });
});

describe('weft web after the token is revoked', () => {
  it('stops syncing, reports it, and lets the page log in again (no 409)', async () => {
    const dir = tempDir();
    const owner = await newClient(server.url, dir, 'wl-alice');
    await owner.close();
    const web = await startWebServer({
      storePath: join(tempDir(), 'wl-web.db'),
      homeserver: server.url,
      passphrase: PASSPHRASE,
    });
    try {
      const granted = await realFetch(web.launchUrl, { redirect: 'manual' });
      const cookie = (granted.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const api = (path: string, body?: unknown) =>
        realFetch(`${web.url}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: { cookie, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      const login = { homeserver: server.url, user: 'wl-alice', password: 'password of wl-alice' };
      // The homeserver refuses the first session's token from its second /sync on.
      let syncs = 0;
      let revoked: string | undefined;
      hook = async (url, init) => {
        if (!url.includes('/_matrix/client/v3/sync')) return undefined;
        const token = new Headers(init?.headers).get('authorization');
        syncs += 1;
        if (syncs === 2) revoked = token ?? undefined;
        if (revoked === undefined || token !== revoked) return undefined;
        return Response.json({ errcode: 'M_UNKNOWN_TOKEN', error: 'gone' }, { status: 401 });
      };
      const first = await api('/api/login', login);
      expect(first.status).toBe(200);
      const { deviceId } = (await first.json()) as { deviceId: string };
      for (let i = 0; i < 100; i++) {
        const session = (await (await api('/api/session')).json()) as { loggedIn: boolean };
        if (!session.loggedIn) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(((await (await api('/api/session')).json()) as { loggedIn: boolean }).loggedIn).toBe(
        false,
      );
      const syncsAfterStop = syncs;
      await new Promise((r) => setTimeout(r, 600));
      expect(syncs).toBe(syncsAfterStop);
      const again = await api('/api/login', login);
      expect(again.status).toBe(200);
      const second = (await again.json()) as { deviceId: string };
      expect(second.deviceId).not.toBe(deviceId);
    } finally {
      hook = undefined;
      await web.close();
    }
  });
});

describe('one store, one client', () => {
  it('a second open fails with store-locked while the first is open, and works after close', async () => {
    const path = join(tempDir(), 'locked.db');
    const first = WeftClient.open({
      homeserver: server.url,
      storePath: path,
      passphrase: PASSPHRASE,
    });
    let error: unknown;
    try {
      WeftClient.open({ homeserver: server.url, storePath: path, passphrase: PASSPHRASE });
    } catch (e) {
      error = e;
    }
    expect(ClientError.isInstance(error) && error.code).toBe('store-locked');
    await first.close();
    const second = WeftClient.open({
      homeserver: server.url,
      storePath: path,
      passphrase: PASSPHRASE,
    });
    await second.close();
  });

  it('takes over the lock of a process that no longer runs; a wrong passphrase releases it', () => {
    const path = join(tempDir(), 'stale.db');
    LocalStore.open(path, PASSPHRASE).close();
    writeFileSync(`${path}.lock`, '999999999');
    const store = LocalStore.open(path, PASSPHRASE);
    store.close();
    expect(() => LocalStore.open(path, 'wrong')).toThrow(/passphrase/);
    LocalStore.open(path, PASSPHRASE).close();
  });

  it('does not take over a lock file that holds no PID yet (being written); a dead PID it does', () => {
    const path = join(tempDir(), 'writing.db');
    LocalStore.open(path, PASSPHRASE).close();
    writeFileSync(`${path}.lock`, '');
    let error: unknown;
    try {
      LocalStore.open(path, PASSPHRASE).close();
    } catch (e) {
      error = e;
    }
    expect(ClientError.isInstance(error) && error.code).toBe('store-locked');
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe('');
    // The writer finishes with a PID whose process is gone: now it is stale and taken over.
    writeFileSync(`${path}.lock`, '999999999');
    const store = LocalStore.open(path, PASSPHRASE);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(String(process.pid));
    store.close();
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(readdirSync(join(path, '..')).filter((f) => f.includes('.lock.'))).toEqual([]);
  });
});
