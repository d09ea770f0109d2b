/**
 * The resident server forwards what it accepts through `send_join` / `send_leave` (spec
 * server-server-api "Joining Rooms": the resident server "will then send the event to other
 * servers in the room"; membership/accept-membership.ts, FederationService.forwardAccepted).
 * Four servers over real TLS: a room on A with members on B and D; a user of C rejects an
 * invite (send_leave to A) and later joins through A (send_join). B and D learn both from A —
 * their record of inbound transactions (`federation_inbound_txns`, keyed by origin) shows who
 * delivered what —, and C never sends its own join to anyone (no duplicate delivery). A never
 * queues either for C, their origin: A's queue rows (`federation_outbound`) are deleted once
 * delivered, so a trigger on A's database (SQLite, the harness's default) keeps a copy of each
 * row as it is queued.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, sendText, type TestUser } from './sync-helpers.ts';

/** The origins of the transactions `server` received that carried `eventId`. */
async function deliveredBy(server: TestServer, eventId: string): Promise<string[]> {
  const rows = await server.services.ctx.db.query<{ origin: string; response: string }>(
    'SELECT origin, response FROM federation_inbound_txns',
  );
  return rows
    .filter((row) => eventId in (JSON.parse(row.response) as { pdus: object }).pdus)
    .map((row) => row.origin)
    .sort();
}

/** From now on, copies every row `server` queues for delivery into `outbound_seen`. */
async function recordOutbound(server: TestServer): Promise<void> {
  const db = server.services.ctx.db;
  expect(db.dialect).toBe('sqlite');
  await db.execute('CREATE TABLE outbound_seen (destination TEXT NOT NULL, payload TEXT NOT NULL)');
  await db.execute(
    `CREATE TRIGGER outbound_seen_copy AFTER INSERT ON federation_outbound
     WHEN NEW.kind = 'pdu'
     BEGIN INSERT INTO outbound_seen (destination, payload) VALUES (NEW.destination, NEW.payload); END`,
  );
}

/** The destinations `server` queued `userId`'s `membership` event in `roomId` for (sorted). */
async function queuedMembershipFor(
  server: TestServer,
  roomId: string,
  userId: string,
  membership: string,
): Promise<string[]> {
  const rows = await server.services.ctx.db.query<{ destination: string; payload: string }>(
    'SELECT destination, payload FROM outbound_seen',
  );
  return rows
    .filter((row) => {
      const pdu = JSON.parse(row.payload) as {
        room_id: string;
        type: string;
        state_key?: string;
        content: { membership?: string };
      };
      return (
        pdu.room_id === roomId &&
        pdu.type === 'm.room.member' &&
        pdu.state_key === userId &&
        pdu.content.membership === membership
      );
    })
    .map((row) => row.destination)
    .sort();
}

/** The membership event ID of `userId` in `roomId` in `server`'s current state, if any. */
async function memberEvent(
  server: TestServer,
  roomId: string,
  userId: string,
): Promise<{ eventId: string; membership: string } | undefined> {
  const row = await server.services.ctx.db.queryOne<{ event_id: string; pdu: string }>(
    `SELECT s.event_id, e.pdu FROM room_current_state s JOIN events e ON e.event_id = s.event_id
     WHERE s.room_id = $1 AND s.type = 'm.room.member' AND s.state_key = $2`,
    [roomId, userId],
  );
  if (row === undefined) return undefined;
  const content = (JSON.parse(row.pdu) as { content: { membership: string } }).content;
  return { eventId: row.event_id, membership: content.membership };
}

describe('resident server forwarding (a.test resident, b.test and d.test members, c.test joining)', () => {
  let federation: TestFederation;
  let a: TestServer;
  let b: TestServer;
  let c: TestServer;
  let d: TestServer;
  let alice: TestUser;
  let carol: TestUser;
  let roomId: string;

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test', 'c.test', 'd.test']);
    a = federation.server('a.test');
    b = federation.server('b.test');
    c = federation.server('c.test');
    d = federation.server('d.test');
    ({
      roomId,
      users: [alice],
    } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
      ['d.test', 'dave'],
    ]));
    carol = await c.client.registerUser('carol');
    await recordOutbound(a);
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
  });

  it('forwards a leave accepted through send_leave (an invite rejected by c.test)', async () => {
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, {
      user_id: carol.userId,
    });
    await eventually(
      async () => (await memberEvent(b, roomId, carol.userId))?.membership === 'invite',
      'the invite on b.test',
    );
    await call(
      c,
      carol,
      'POST',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`,
      {},
    );
    await eventually(
      async () => (await memberEvent(b, roomId, carol.userId))?.membership === 'leave',
      'the rejection on b.test',
    );
    const leave = await memberEvent(a, roomId, carol.userId);
    expect(leave?.membership).toBe('leave');
    expect(await memberEvent(b, roomId, carol.userId)).toEqual(leave);
    expect(await deliveredBy(b, leave?.eventId ?? '')).toEqual(['a.test']);
    await eventually(
      async () => (await memberEvent(d, roomId, carol.userId))?.eventId === leave?.eventId,
      'the rejection on d.test',
    );
    expect(await deliveredBy(d, leave?.eventId ?? '')).toEqual(['a.test']);
    // Not back to c.test, its origin.
    expect(await queuedMembershipFor(a, roomId, carol.userId, 'leave')).toEqual([
      'b.test',
      'd.test',
    ]);
  }, 60_000);

  it('forwards a join accepted through send_join; the joining server sends it nowhere', async () => {
    await call(
      c,
      carol,
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?via=a.test`,
      {},
    );
    const join = await memberEvent(c, roomId, carol.userId);
    expect(join?.membership).toBe('join');
    for (const other of [b, d]) {
      await eventually(
        async () => (await memberEvent(other, roomId, carol.userId))?.eventId === join?.eventId,
        "carol's join on b.test and d.test",
      );
    }
    // c.test's queue is in order: once its next event reached b.test, a fan-out of the join
    // from c.test would have arrived before it.
    const after = await sendText(c, carol, roomId, 'after the join');
    await eventually(async () => (await deliveredBy(b, after)).length > 0, 'the message on b.test');
    await eventually(async () => (await deliveredBy(a, after)).length > 0, 'the message on a.test');
    expect(await deliveredBy(b, join?.eventId ?? '')).toEqual(['a.test']);
    expect(await deliveredBy(d, join?.eventId ?? '')).toEqual(['a.test']);
    expect(await deliveredBy(a, join?.eventId ?? '')).toEqual([]);
    expect(await deliveredBy(b, after)).toEqual(['c.test']);
    // A queued the join for the other servers in the room and not back to c.test, its origin
    // (c.test's record of inbound transactions cannot show that).
    expect(await queuedMembershipFor(a, roomId, carol.userId, 'join')).toEqual([
      'b.test',
      'd.test',
    ]);
  }, 60_000);
});
