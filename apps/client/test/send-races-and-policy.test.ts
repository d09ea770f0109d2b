/**
 * The SDK against a real Weft server: a member kicked while a send waits on /keys/query gets no
 * key for it, and a room's policy is only ever made stricter (live, and after a restart).
 */

import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { type PolicyDowngradeWarning, WeftClient } from '../src/index.ts';
import { newClient, PASSPHRASE, syncAll, tempDir } from './helpers.ts';

let server: TestServer;
const realFetch = globalThis.fetch;
/** Requests passing through the clients' fetch, and a hook that may hold one. */
let hook: ((url: string, init: RequestInit | undefined) => Promise<void> | void) | undefined;

beforeAll(async () => {
  server = await startTestServer();
  globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    await hook?.(url, init);
    return realFetch(input, init);
  }) as typeof fetch;
});
afterEach(() => {
  hook = undefined;
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await server.stop();
});

function bearer(init: RequestInit | undefined): string | undefined {
  const headers = new Headers(init?.headers);
  return headers.get('authorization')?.replace(/^Bearer /, '');
}

describe('a kick applied while a send looks up devices', () => {
  for (const mode of ['epoch', 'forward-secret'] as const) {
    it(`${mode}: the kicked member's devices get no key and cannot decrypt`, async () => {
      const dir = tempDir();
      const tag = mode === 'epoch' ? 'ke' : 'kf';
      const alice = await newClient(server.url, dir, `alice-${tag}`);
      const bob = await newClient(server.url, dir, `bob-${tag}`);
      const carol = await newClient(server.url, dir, `carol-${tag}`);
      const roomId = await alice.createRoom({ policy: mode, invite: [bob.userId, carol.userId] });
      await syncAll(alice, bob, carol);
      await bob.join(roomId);
      await carol.join(roomId);
      await syncAll(alice, bob, carol);

      // Hold alice's next /keys/query; record every key alice sends to devices.
      let release = () => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      let reached = () => {};
      const lookup = new Promise<void>((r) => {
        reached = r;
      });
      const keyedUsers = new Set<string>();
      hook = async (url, init) => {
        if (url.includes('/keys/query') && init?.method === 'POST') {
          reached();
          await held;
        }
        if (url.includes('/sendToDevice/m.room.encrypted/')) {
          const body = JSON.parse(String(init?.body)) as { messages: Record<string, unknown> };
          for (const user of Object.keys(body.messages)) keyedUsers.add(user);
        }
      };
      const sending = alice.sendText(roomId, `${mode} after the kick`);
      await lookup;
      hook = async (url, init) => {
        if (url.includes('/sendToDevice/m.room.encrypted/')) {
          const body = JSON.parse(String(init?.body)) as { messages: Record<string, unknown> };
          for (const user of Object.keys(body.messages)) keyedUsers.add(user);
        }
      };
      await alice.kick(roomId, bob.userId);
      await alice.syncOnce(0); // the kick is applied while the send waits on /keys/query
      release();
      const sent = await sending;
      expect(sent.status).toBe('sent');
      expect(keyedUsers.has(bob.userId)).toBe(false);
      expect(keyedUsers.has(carol.userId)).toBe(true);

      await syncAll(bob, carol);
      const last = carol.room(roomId).timeline.at(-1);
      expect(last?.content['body']).toBe(`${mode} after the kick`);
      if (last?.raw === undefined) throw new Error('carol has no raw event');
      const tried = await bob.decryptEvent(roomId, last.raw);
      expect(tried.decryptionError?.code).toBe('missing-key');
      await Promise.all([alice.close(), bob.close(), carol.close()]);
    });
  }
});

describe('a weaker m.room.encryption', () => {
  it('is ignored and reported; the strictest policy survives a restart', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'alice-pd');
    let token: string | undefined;
    hook = (url, init) => {
      if (url.includes('/createRoom')) token = bearer(init);
    };
    const roomId = await alice.createRoom({ policy: 'forward-secret' });
    hook = undefined;
    if (token === undefined) throw new Error('no access token seen');
    const warnings: PolicyDowngradeWarning[] = [];
    alice.onWarning((w) => {
      if (w.code === 'policy-downgrade-ignored') warnings.push(w);
    });
    await alice.syncOnce(0);
    expect(alice.policy(roomId)?.mode).toBe('forward-secret');
    expect(warnings).toEqual([]);

    const putEncryption = async (content: Record<string, unknown>) => {
      const res = await realFetch(
        `${server.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`,
        {
          method: 'PUT',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(content),
        },
      );
      expect(res.status).toBe(200);
      await alice.syncOnce(0);
    };
    // A plain Megolm event (no org.weft.policy) means `epoch`: weaker than forward-secret.
    await putEncryption({ algorithm: 'm.megolm.v1.aes-sha2' });
    expect(alice.policy(roomId)?.mode).toBe('forward-secret');
    expect(warnings.map((w) => [w.code, w.roomId, w.ignored.mode, w.policy.mode])).toEqual([
      ['policy-downgrade-ignored', roomId, 'epoch', 'forward-secret'],
    ]);
    await putEncryption({
      algorithm: 'm.megolm.v1.aes-sha2',
      'org.weft.policy': { mode: 'shared' },
    });
    expect(alice.policy(roomId)?.mode).toBe('forward-secret');
    expect(warnings).toHaveLength(2);
    // Sending still keys per message.
    const sent = await alice.sendText(roomId, 'still forward-secret');
    expect(sent.status).toBe('sent');

    // Restart: the saved state holds the weaker event, the strictest policy is kept.
    await alice.close();
    const again = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'alice-pd.db'),
      passphrase: PASSPHRASE,
    });
    expect(again.policy(roomId)?.mode).toBe('forward-secret');
    expect(again.warnings().map((w) => w.code)).toContain('policy-downgrade-ignored');
    await again.syncOnce(0);
    expect(again.policy(roomId)?.mode).toBe('forward-secret');
    await again.close();
  });

  it('a stricter one is applied', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'alice-pu');
    let token: string | undefined;
    hook = (url, init) => {
      if (url.includes('/createRoom')) token = bearer(init);
    };
    const roomId = await alice.createRoom({ policy: 'shared' });
    hook = undefined;
    await alice.syncOnce(0);
    const res = await realFetch(
      `${server.url}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.encryption/`,
      {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          algorithm: 'm.megolm.v1.aes-sha2',
          'org.weft.policy': { mode: 'epoch' },
        }),
      },
    );
    expect(res.status).toBe(200);
    await alice.syncOnce(0);
    expect(alice.policy(roomId)?.mode).toBe('epoch');
    expect(alice.warnings()).toEqual([]);
    await alice.close();
  });
});
