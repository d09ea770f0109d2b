/**
 * Where local typing and read-receipt EDUs go (services/federation/edus/outbound.ts; spec
 * server-server-api "Typing Notifications", "Receipts": to the servers in the room): the other
 * server of a room joined over federation gets them, and the room's joined members come from
 * RoomService's cache (rooms/joined-members.ts) while its state is unchanged, not from a scan of
 * `room_memberships` per EDU (every keystroke sends one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

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

function ephemeral(body: Json, type: string): Json | undefined {
  const events = (body['rooms']?.['join']?.[roomId]?.['ephemeral']?.['events'] ?? []) as Json[];
  return events.find((e) => e['type'] === type);
}

async function typing(user: TestUser, on: boolean): Promise<void> {
  await call(
    b,
    user,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(user.userId)}`,
    on ? { typing: true, timeout: 30_000 } : { typing: false },
  );
}

async function typingOnA(): Promise<readonly string[]> {
  const event = ephemeral(await sync(a, alice), 'm.typing');
  return (event?.['content']['user_ids'] as string[] | undefined) ?? [];
}

describe('typing and receipt EDU destinations', () => {
  it('reach the room’s other server without reading the joined members per EDU', async () => {
    const eventId = await sendText(a, alice, roomId, 'read me');
    await eventually(
      async () => (await b.services.rooms.getEvent(eventId)) !== undefined,
      'the message on B',
    );
    // Every statement b.test runs outside a transaction (where the EDU listeners read).
    const db = b.services.ctx.db;
    const query = db.query.bind(db);
    const statements: string[] = [];
    db.query = ((sql, params) => {
      statements.push(sql);
      return query(sql, params);
    }) as typeof db.query;
    try {
      await typing(bob, true);
      await eventually(async () => (await typingOnA()).includes(bob.userId), 'bob typing on A');
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
      await typing(bob, false);
      await eventually(async () => !(await typingOnA()).includes(bob.userId), 'bob stopped on A');
    } finally {
      db.query = query;
    }
    // Three EDUs; the room's state did not change, so its members were read at most once.
    const memberScans = statements.filter(
      (sql) => sql.includes('FROM room_memberships') && sql.includes("membership = 'join'"),
    );
    expect(memberScans.length).toBeLessThanOrEqual(1);
  }, 60_000);
});
