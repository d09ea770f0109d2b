/**
 * PUT /sendToDevice/{eventType}/{txnId} (spec client-server-api "Send-to-Device messaging"):
 * messages reach the target device's /sync in order, once acknowledged by the next token they are
 * deleted, `*` reaches every device, transaction IDs make retries idempotent, and a long queue
 * is delivered 100 at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { call, type Json, loginDevice, sync, type TestUser } from './sync-helpers.ts';

let txn = 0;

async function sendToDevice(
  server: TestServer,
  from: TestUser,
  messages: Json,
  txnId = `td${++txn}`,
  type = 'm.test',
): Promise<void> {
  await call(server, from, 'PUT', `/_matrix/client/v3/sendToDevice/${type}/${txnId}`, {
    messages,
  });
}

function toDevice(response: Json): Json[] {
  return response['to_device']['events'];
}

/** Registers the tests against servers started with `options()` (SQLite or PostgreSQL). */
export function toDeviceSuite(options: () => TestServerOptions): void {
  describe('send-to-device', () => {
    let server: TestServer;
    let alice: TestUser;
    let alicePhone: TestUser;
    let bob: TestUser;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      alicePhone = await loginDevice(server, alice.userId, 'PHONE');
      bob = await server.client.registerUser('bob');
    });
    afterAll(() => server.stop());

    it('delivers to the target device in order, again for the same token, then deletes', async () => {
      const token = (await sync(server, alice))['next_batch'];
      await sendToDevice(server, bob, { [alice.userId]: { [alice.deviceId]: { n: 1 } } });
      await sendToDevice(server, bob, { [alice.userId]: { [alice.deviceId]: { n: 2 } } });
      const first = await sync(server, alice, { since: token });
      expect(toDevice(first)).toEqual([
        { sender: bob.userId, type: 'm.test', content: { n: 1 } },
        { sender: bob.userId, type: 'm.test', content: { n: 2 } },
      ]);
      // Not acknowledged yet: the same token gets the same messages.
      expect(toDevice(await sync(server, alice, { since: token }))).toHaveLength(2);
      // The next token acknowledges them; afterwards they are gone for good.
      expect(toDevice(await sync(server, alice, { since: first['next_batch'] }))).toEqual([]);
      expect(toDevice(await sync(server, alice, { since: token }))).toEqual([]);
      // The other device got nothing.
      expect(toDevice(await sync(server, alicePhone))).toEqual([]);
    });

    it('sends to every device for "*", wakes a waiting sync, and ignores a repeated txnId', async () => {
      const phoneToken = (await sync(server, alicePhone))['next_batch'];
      const waiting = sync(server, alicePhone, { since: phoneToken, timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await sendToDevice(server, bob, { [alice.userId]: { '*': { all: true } } }, 'same-txn');
      const woken = await waiting;
      expect(toDevice(woken)).toEqual([
        { sender: bob.userId, type: 'm.test', content: { all: true } },
      ]);
      await sendToDevice(server, bob, { [alice.userId]: { '*': { all: true } } }, 'same-txn');
      expect(toDevice(await sync(server, alicePhone, { since: woken['next_batch'] }))).toEqual([]);
      const laptop = toDevice(await sync(server, alice));
      expect(laptop.filter((e) => e['content']['all'] === true)).toHaveLength(1);
    });

    it('delivers a long queue 100 messages at a time without losing any', async () => {
      const carol = await server.client.registerUser('carol');
      // Sent concurrently (arrival order is then the server's), so only the set is compared.
      await Promise.all(
        Array.from({ length: 105 }, (_, i) =>
          sendToDevice(server, bob, { [carol.userId]: { [carol.deviceId]: { i } } }),
        ),
      );
      const first = await sync(server, carol);
      expect(toDevice(first)).toHaveLength(100);
      const second = await sync(server, carol, { since: first['next_batch'], timeout: 10_000 });
      expect(toDevice(second)).toHaveLength(5);
      const all = [...toDevice(first), ...toDevice(second)].map((e) => e['content']['i']);
      expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 105 }, (_, i) => i));
    });

    it('refuses malformed bodies', async () => {
      const path = '/_matrix/client/v3/sendToDevice/m.test/bad1';
      expect((await call(server, bob, 'PUT', path, {}, 400))['errcode']).toBe('M_BAD_JSON');
      expect(
        (
          await call(server, bob, 'PUT', path, { messages: { [alice.userId]: { X: 'text' } } }, 400)
        )['errcode'],
      ).toBe('M_BAD_JSON');
      expect(
        (await call(server, bob, 'PUT', path, { messages: { 'not-a-user': {} } }, 400))['errcode'],
      ).toBe('M_INVALID_PARAM');
    });
  });
}
