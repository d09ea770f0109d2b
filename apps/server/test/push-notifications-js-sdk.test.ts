/**
 * Unread counts as Element's SDK sees them: matrix-js-sdk 43's sync loop reads the server's
 * `unread_notifications` (push-rule evaluation, services/push) — the total and highlight counts
 * rise as another user sends and mentions, and drop to zero after the SDK sends a read receipt.
 */
import { type MatrixClient, NotificationCountType } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { startSdkClient } from './js-sdk.ts';
import { call, createRoom, sendText, type TestUser } from './sync-helpers.ts';

let server: TestServer;
let sdk: MatrixClient | undefined;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  sdk?.stopClient();
  await server.stop();
});

async function waitFor(probe: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('unread counts in matrix-js-sdk', () => {
  it('rise with messages and mentions, and reset after a read receipt', async () => {
    const alice: TestUser = await server.client.registerUser('alice');
    const bob: TestUser = await server.client.registerUser('bob');
    const roomId = await createRoom(server, alice, [bob]);
    const client = await startSdkClient(server.url, bob);
    sdk = client;
    const counts = () => {
      const room = client.getRoom(roomId);
      return [
        room?.getUnreadNotificationCount(NotificationCountType.Total) ?? -1,
        room?.getUnreadNotificationCount(NotificationCountType.Highlight) ?? -1,
      ];
    };
    await waitFor(() => counts()[0] === 0, 'the room with no unread notifications');

    await sendText(server, alice, roomId, 'hello there');
    await sendText(server, alice, roomId, 'are you there?');
    const mention = await call(
      server,
      alice,
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/js1`,
      { msgtype: 'm.text', body: 'Bob!', 'm.mentions': { user_ids: [bob.userId] } },
    );
    await waitFor(() => counts()[0] === 3 && counts()[1] === 1, 'three unread, one highlight');

    const room = client.getRoom(roomId);
    const event = room?.findEventById(mention['event_id']);
    if (event === undefined) throw new Error('the mention is not in the SDK timeline');
    await client.sendReadReceipt(event);
    await waitFor(() => counts()[0] === 0 && counts()[1] === 0, 'counts reset by the receipt');
    expect(counts()).toEqual([0, 0]);
  }, 60_000);
});
