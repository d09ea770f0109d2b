/**
 * Read receipts wake only the long-polls that show them (services/receipts: the room's joined
 * members; a private receipt its user alone), and those syncs still carry the receipt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Notifier } from '../src/services/core/notifier.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('receipt wake-ups', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    carol = await server.client.registerUser('carol');
    roomId = await createRoom(server, alice, [bob]);
    await createRoom(server, carol);
  });
  afterAll(() => server.stop());

  /** A token after everything so far (initial sync, then an incremental one to settle). */
  async function settledToken(user: TestUser): Promise<string> {
    const first = (await sync(server, user, { timeout: 0 }))['next_batch'];
    return (await sync(server, user, { since: first, timeout: 0 }))['next_batch'];
  }

  const receiptsIn = (body: Json): Json[] =>
    ((body['rooms']['join'][roomId]?.['ephemeral']['events'] ?? []) as Json[]).filter(
      (event) => event['type'] === 'm.receipt',
    );

  it('wakes the room’s members with a public receipt, and only its user with a private one', async () => {
    const message = await sendText(server, alice, roomId, 'read me');
    const token = await settledToken(alice);
    await settledToken(carol);
    const notifier: Notifier = server.services.ctx.notifier;
    const before = notifier.position;
    const waiting = sync(server, alice, { since: token, timeout: 30_000 });
    await call(
      server,
      bob,
      'POST',
      `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(message)}`,
      {},
    );
    const woken = await waiting;
    expect(receiptsIn(woken)[0]?.['content'][message]['m.read'][bob.userId]).toBeDefined();
    expect(notifier.quietForUser(before, carol.userId)).toBe(true);

    const afterPublic = notifier.position;
    await call(
      server,
      bob,
      'POST',
      `${V3}/rooms/${enc(roomId)}/receipt/m.read.private/${enc(message)}`,
      {},
    );
    expect(notifier.quietForUser(afterPublic, alice.userId)).toBe(true);
    expect(notifier.quietForUser(afterPublic, bob.userId)).toBe(false);
    // Alice's next sync has no sign of Bob's private receipt; Bob's own shows it.
    const aliceNext = await sync(server, alice, { since: woken['next_batch'], timeout: 0 });
    expect(receiptsIn(aliceNext)).toEqual([]);
    const bobAll = await sync(server, bob, { timeout: 0 });
    expect(receiptsIn(bobAll)[0]?.['content'][message]['m.read.private'][bob.userId]).toBeDefined();
  });
});
