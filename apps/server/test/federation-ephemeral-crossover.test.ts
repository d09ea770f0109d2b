/**
 * Ephemeral data across servers in a room joined over federation (the federation core's EDUs
 * over a room set up by services/federation/membership): typing, read receipts and to-device
 * messages sent on one server reach the clients of the other through `/sync`.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;
let roomId: string;

function ephemeral(body: Json, type: string): Json | undefined {
  const events = (body['rooms']?.['join']?.[roomId]?.['ephemeral']?.['events'] ?? []) as Json[];
  return events.find((e) => e['type'] === type);
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  ({
    roomId,
    users: [alice, bob],
  } = await joinedRoomAcross(federation, [
    ['a.test', 'alice'],
    ['b.test', 'bob'],
  ]));
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('EDUs in a room joined over federation', () => {
  it('shows typing on B to A’s client', async () => {
    await call(
      b,
      bob,
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`,
      { typing: true, timeout: 30_000 },
    );
    await eventually(async () => {
      const typing = ephemeral(await sync(a, alice), 'm.typing');
      return (
        (typing?.['content']['user_ids'] as string[] | undefined)?.includes(bob.userId) === true
      );
    }, 'bob typing on A');
  });

  it('shows B’s read receipt to A’s client', async () => {
    const eventId = await sendText(a, alice, roomId, 'read me');
    await eventually(
      async () => (await b.services.rooms.getEvent(eventId)) !== undefined,
      'the message on B',
    );
    await call(
      b,
      bob,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`,
      {},
    );
    await eventually(async () => {
      const receipt = ephemeral(await sync(a, alice), 'm.receipt');
      return receipt?.['content']?.[eventId]?.['m.read']?.[bob.userId] !== undefined;
    }, 'bob’s receipt on A');
  });

  it('delivers a to-device message from A to a device on B', async () => {
    await call(a, alice, 'PUT', '/_matrix/client/v3/sendToDevice/m.test.ping/txn-1', {
      messages: { [bob.userId]: { [bob.deviceId]: { hello: 'from A' } } },
    });
    await eventually(async () => {
      const events = ((await sync(b, bob))['to_device']?.['events'] ?? []) as Json[];
      return events.some(
        (e) =>
          e['type'] === 'm.test.ping' &&
          e['sender'] === alice.userId &&
          e['content']['hello'] === 'from A',
      );
    }, 'the to-device message on B');
  });
});
