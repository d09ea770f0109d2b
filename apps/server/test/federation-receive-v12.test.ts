/**
 * Inbound `/send` in a room version 12 room between two real servers over TLS: v12 events never
 * cite the create event (the room ID is `!` + its reference hash, https://spec.matrix.org/v1.19/rooms/v12/),
 * so step 4 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu
 * must take it from storage by the room ID (auth-against-auth-events.ts `authEventIdsToLoad`).
 * Messages and state sent on b.test reach a.test accepted — not rejected for a missing create
 * event — and in both directions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  type FederatedUser,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, type Json, messageBodies, sendText, sync } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: FederatedUser;
let bob: FederatedUser;
let roomId: string;

type Row = { rejected: number; soft_failed: number; stream_position: number | null };

function row(server: TestServer, eventId: string): Promise<Row | undefined> {
  return server.services.ctx.db.queryOne<Row>(
    'SELECT rejected, soft_failed, stream_position FROM events WHERE event_id = $1',
    [eventId],
  );
}

/** Waits until `server` stored `eventId`; returns its row. */
async function arrived(server: TestServer, eventId: string): Promise<Row> {
  await eventually(async () => (await row(server, eventId)) !== undefined, `${eventId} stored`);
  return (await row(server, eventId)) as Row;
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  ({
    roomId,
    users: [alice, bob],
  } = await joinedRoomAcross(
    federation,
    [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
    ],
    { room_version: '12' },
  ));
}, 90_000);

afterAll(async () => {
  await federation?.close();
});

describe('inbound /send in a v12 room (handle-pdu.ts, auth-against-auth-events.ts)', () => {
  it('is a v12 room whose ID names its create event', async () => {
    expect(await a.services.rooms.roomVersion(roomId)).toBe('12');
    const create = await a.services.ctx.db.queryOne<{ event_id: string }>(
      `SELECT event_id FROM events WHERE room_id = $1 AND type = 'm.room.create'`,
      [roomId],
    );
    expect(create?.event_id).toBe(`$${roomId.slice(1)}`);
  });

  it('accepts messages and state sent from the remote server', async () => {
    const message = await sendText(b, bob, roomId, 'hello from b');
    const state = (
      await call(
        b,
        bob,
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`,
        { membership: 'join', displayname: 'Bob of b' },
      )
    )['event_id'] as string;
    const second = await sendText(b, bob, roomId, 'again from b');
    for (const eventId of [message, state, second]) {
      const stored = await arrived(a, eventId);
      expect(Number(stored.rejected), eventId).toBe(0);
      expect(Number(stored.soft_failed), eventId).toBe(0);
      expect(stored.stream_position, eventId).not.toBeNull();
    }
    const body: Json = await sync(a, alice);
    expect(messageBodies(body['rooms']['join'][roomId]['timeline'])).toEqual(
      expect.arrayContaining(['hello from b', 'again from b']),
    );
    const displayname = await a.services.ctx.db.queryOne<{ event_id: string }>(
      `SELECT event_id FROM room_current_state
        WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2`,
      [roomId, bob.userId],
    );
    expect(displayname?.event_id).toBe(state);
  });

  it('accepts the other way too', async () => {
    const message = await sendText(a, alice, roomId, 'hello from a');
    const stored = await arrived(b, message);
    expect(Number(stored.rejected)).toBe(0);
    expect(stored.stream_position).not.toBeNull();
  });
});
