/**
 * `/sync` timelines read events by ID from the event cache (rooms/timeline.ts `timelineSlice`):
 * what they serve must still be the event as stored now — redacted once redacted — and the
 * per-device `unsigned.transaction_id` must reach only the sending device.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { registerUsers, startTestServer, type TestServer } from './harness.ts';
import {
  call,
  createRoom,
  type Json,
  loginDevice,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('sync timelines served from cached events', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    [alice, bob] = await registerUsers(server, ['alice', 'bob']);
  });
  afterAll(() => server.stop());

  const timelineOf = (body: Json, roomId: string): Json[] =>
    body['rooms']['join'][roomId]?.['timeline']['events'] ?? [];

  it('serves an event redacted after it was cached as redacted', async () => {
    const roomId = await createRoom(server, alice, [bob]);
    const before = (await sync(server, bob))['next_batch'];
    const target = await sendText(server, alice, roomId, 'secret');
    // Bob's sync reads (and so caches) the event as sent.
    const first = timelineOf(await sync(server, bob, { since: before }), roomId);
    expect(first.find((event) => event['event_id'] === target)?.['content']['body']).toBe('secret');
    await call(
      server,
      alice,
      'PUT',
      `${V3}/rooms/${enc(roomId)}/redact/${enc(target)}/redact-cached`,
      {},
    );
    const again = timelineOf(await sync(server, bob, { since: before }), roomId);
    const redacted = again.find((event) => event['event_id'] === target);
    expect(redacted?.['content']).toEqual({});
    expect(redacted?.['unsigned']['redacted_because']['type']).toBe('m.room.redaction');
    expect(again.at(-1)?.['type']).toBe('m.room.redaction');
  });

  it('gives the transaction ID to the sending device only', async () => {
    const roomId = await createRoom(server, alice, [bob]);
    const other = await loginDevice(server, alice.userId, 'OTHERDEVICE');
    const since = {
      alice: (await sync(server, alice))['next_batch'],
      other: (await sync(server, other))['next_batch'],
      bob: (await sync(server, bob))['next_batch'],
    };
    const sent = await call(
      server,
      alice,
      'PUT',
      `${V3}/rooms/${enc(roomId)}/send/m.room.message/mine`,
      {
        msgtype: 'm.text',
        body: 'with a txn',
      },
    );
    const seenBy = async (user: TestUser, token: string) =>
      timelineOf(await sync(server, user, { since: token }), roomId).find(
        (event) => event['event_id'] === sent['event_id'],
      );
    expect((await seenBy(alice, since.alice))?.['unsigned']['transaction_id']).toBe('mine');
    expect((await seenBy(other, since.other))?.['unsigned']).not.toHaveProperty('transaction_id');
    expect((await seenBy(bob, since.bob))?.['unsigned']).not.toHaveProperty('transaction_id');
    // And the sender again, after the others rendered the same event.
    expect((await seenBy(alice, since.alice))?.['unsigned']['transaction_id']).toBe('mine');
  });
});
