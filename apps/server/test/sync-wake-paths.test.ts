/**
 * The notifier-driven paths of `/sync` (services/sync/service.ts): a returning long-poll waits
 * when nothing was announced for it, wakes on its room's message, and a woken sync whose range
 * also holds a receipt and a to-device message (broadcasts) still carries them — only a range
 * of room changes alone skips those sections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

describe('/sync wake-up paths', () => {
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

  const room = (response: Json) => response['rooms']['join'][roomId];

  it('carries a receipt and a to-device message committed alongside a message', async () => {
    const token = (await sync(server, alice))['next_batch'];
    const eventId = await sendText(server, bob, roomId, 'with company');
    await call(
      server,
      bob,
      'POST',
      `/_matrix/client/v3/rooms/${roomId}/receipt/m.read/${eventId}`,
      {},
    );
    await call(server, bob, 'PUT', '/_matrix/client/v3/sendToDevice/m.test/wake1', {
      messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } },
    });

    const response = await sync(server, alice, { since: token, timeout: 10_000 });
    expect(messageBodies(room(response)['timeline'])).toEqual(['with company']);
    const receipt = (room(response)['ephemeral']['events'] as Json[]).find(
      (event) => event['type'] === 'm.receipt',
    );
    expect(receipt?.['content'][eventId]['m.read'][bob.userId]).toBeDefined();
    expect(response['to_device']['events']).toEqual([
      { sender: bob.userId, type: 'm.test', content: { n: 1 } },
    ]);
  });

  it('waits when nothing is new, wakes on a message, and reports only the room', async () => {
    const token = (await sync(server, alice, { timeout: 0 }))['next_batch'];
    // Acknowledge everything so far, so the next range holds room changes only.
    const quiet = await sync(server, alice, { since: token, timeout: 0 });
    expect(quiet['rooms']['join'][roomId]).toBeUndefined();

    const waiting = sync(server, alice, { since: quiet['next_batch'], timeout: 30_000 });
    await sendText(server, bob, roomId, 'wake up');
    const response = await waiting;
    expect(messageBodies(room(response)['timeline'])).toEqual(['wake up']);
    expect(response['to_device']['events']).toEqual([]);
    expect(response['account_data']['events']).toEqual([]);
    expect(response['device_lists']).toEqual({ changed: [], left: [] });
    expect(response['next_batch']).not.toBe(quiet['next_batch']);
  });

  it('stops listening when the client of a long-poll goes away', async () => {
    const token = (await sync(server, alice, { timeout: 0 }))['next_batch'];
    const quiet = (await sync(server, alice, { since: token, timeout: 0 }))['next_batch'];
    const notifier = server.services.ctx.notifier;
    const before = notifier.waiting;
    const client = new AbortController();
    const query = new URLSearchParams({ since: quiet, timeout: '60000' });
    const request = fetch(`${server.url}/_matrix/client/v3/sync?${query}`, {
      headers: { Authorization: `Bearer ${alice.accessToken}` },
      signal: client.signal,
    }).catch((error: unknown) => error);
    // The long-poll registers with the notifier once it has nothing to answer…
    while (notifier.waiting === before) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(notifier.waiting).toBe(before + 1);
    client.abort();
    expect(await request).toBeInstanceOf(Error);
    // …and unregisters when its connection closes, long before its timeout.
    while (notifier.waiting > before) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(notifier.waiting).toBe(before);
    // The room still wakes the next long-poll.
    const waiting = sync(server, alice, { since: quiet, timeout: 30_000 });
    await sendText(server, bob, roomId, 'still here');
    expect(messageBodies(room(await waiting)['timeline'])).toEqual(['still here']);
  });

  it('marks its user online again after a presence change between syncs', async () => {
    const status = `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`;
    await sync(server, alice, { timeout: 0 });
    expect((await call(server, alice, 'GET', status))['presence']).toBe('online');
    // Changed between two syncs: the next sync must not trust what the last one saw.
    await call(server, alice, 'PUT', status, { presence: 'unavailable' });
    expect((await call(server, alice, 'GET', status))['presence']).toBe('unavailable');
    await sync(server, alice, { timeout: 0 });
    expect((await call(server, alice, 'GET', status))['presence']).toBe('online');
    await sync(server, alice, { timeout: 0, set_presence: 'unavailable' });
    expect((await call(server, alice, 'GET', status))['presence']).toBe('unavailable');
  });
});
