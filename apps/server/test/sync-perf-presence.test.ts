/**
 * Presence changes wake only the long-polls that show them (services/presence: the users sharing
 * a joined room with the changed user, and that user), and those syncs still carry the change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Notifier } from '../src/services/core/notifier.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('presence wake-ups', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    carol = await server.client.registerUser('carol');
    await createRoom(server, alice, [bob]);
    await createRoom(server, carol);
  });
  afterAll(() => server.stop());

  const presenceOf = (body: Json, userId: string) =>
    (body['presence']['events'] as Json[]).filter((event) => event['sender'] === userId);

  /** A token after everything so far (initial sync, then an incremental one to settle). */
  async function settledToken(user: TestUser): Promise<string> {
    const first = (await sync(server, user, { timeout: 0 }))['next_batch'];
    return (await sync(server, user, { since: first, timeout: 0 }))['next_batch'];
  }

  it('wakes a room-mate’s long-poll with the change, and announces it to room-mates only', async () => {
    const tokens = { alice: await settledToken(alice), carol: await settledToken(carol) };
    const notifier: Notifier = server.services.ctx.notifier;
    const before = notifier.position;
    const waiting = sync(server, alice, { since: tokens.alice, timeout: 30_000 });
    await call(server, bob, 'PUT', `${V3}/presence/${enc(bob.userId)}/status`, {
      presence: 'unavailable',
      status_msg: 'lunch',
    });
    const woken = await waiting;
    expect(presenceOf(woken, bob.userId).at(-1)?.['content']).toMatchObject({
      presence: 'unavailable',
      status_msg: 'lunch',
    });
    // Carol shares no room with Bob: the change was not announced to her, nor broadcast.
    expect(notifier.quietForUser(before, carol.userId)).toBe(true);
    expect(notifier.quietForUser(before, alice.userId)).toBe(false);
    const carolSync = await sync(server, carol, { since: tokens.carol, timeout: 0 });
    expect(presenceOf(carolSync, bob.userId)).toEqual([]);
  });
});
