/**
 * Erasure at deactivation on SQLite (account-erasure-suite.ts), and over federation (real TLS):
 * a server whose user joined after the erasure gets the erased user's events redacted from
 * `/event`, `/get_missing_events`, `/backfill`, `/state` and `/event_auth`; one whose user was
 * joined before gets them in full.
 */
import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { accountErasureSuite } from './account-erasure-suite.ts';
import {
  createPublicRoom,
  type FederatedUser,
  joinVia,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { Json } from './sync-helpers.ts';

accountErasureSuite();

describe('events of an erased user over federation', () => {
  let federation: TestFederation;
  let roomId: string;
  let erased: string;
  let aliceId: string;
  let last: string;

  const send = async (user: FederatedUser, body: string) => {
    const path = matrixPath`/_matrix/client/v3/rooms/${roomId}/send/m.room.message/${body}`;
    const response = await federation
      .client('a.test')
      .request('PUT', path, { body: { msgtype: 'm.text', body }, token: user.accessToken });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return String(response.body['event_id']);
  };

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test', 'c.test']);
    const a = federation.client('a.test');
    const alice = await a.registerUser('alice');
    aliceId = alice.userId;
    // Amy keeps a.test in the room once Alice is gone.
    const amy = await a.registerUser('amy');
    const bob = await federation.client('b.test').registerUser('bob');
    const carl = await federation.client('c.test').registerUser('carl');
    // Her join copies it into its content.
    const named = await a.request(
      'PUT',
      matrixPath`/_matrix/client/v3/profile/${alice.userId}/displayname`,
      { body: { displayname: 'Alice Liddell' }, token: alice.accessToken },
    );
    expect(named.status, JSON.stringify(named.body)).toBe(200);
    roomId = await createPublicRoom(a, alice);
    await joinVia(a, amy, roomId, 'a.test');
    erased = await send(alice, 'from alice');
    await joinVia(federation.client('b.test'), bob, roomId, 'a.test');
    const deactivated = await a.request('POST', '/_matrix/client/v3/account/deactivate', {
      body: {
        erase: true,
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: alice.userId },
          password: 'correct horse battery staple',
        },
      },
      token: alice.accessToken,
    });
    expect(deactivated.status, JSON.stringify(deactivated.body)).toBe(200);
    await joinVia(federation.client('c.test'), carl, roomId, 'a.test');
    last = await send(amy, 'from amy');
  }, 90_000);
  afterAll(() => federation?.close());

  const from = (
    server: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    query?: Record<string, string>,
  ) =>
    federation
      .server(server)
      .services.federation.client.request<Json>('a.test', method, path, body, {
        ...(query !== undefined ? { query } : {}),
        retry: false,
      });

  /** Alice's message as `server` gets it from each endpoint. */
  async function served(server: string): Promise<Json[]> {
    const event = await from(server, 'GET', matrixPath`/_matrix/federation/v1/event/${erased}`);
    const missing = await from(
      server,
      'POST',
      matrixPath`/_matrix/federation/v1/get_missing_events/${roomId}`,
      { earliest_events: [], latest_events: [last], limit: 50 },
    );
    const backfill = await from(
      server,
      'GET',
      matrixPath`/_matrix/federation/v1/backfill/${roomId}`,
      undefined,
      { v: last, limit: '50' },
    );
    // PDUs carry no event ID: Alice sent one message.
    const find = (pdus: Json[]) =>
      pdus.find((pdu) => pdu['type'] === 'm.room.message' && pdu['sender'] === aliceId) ?? {};
    return [find(event['pdus']), find(missing['events']), find(backfill['pdus'])];
  }

  it('redacts them for a server that joined after the erasure', async () => {
    for (const pdu of await served('c.test')) {
      expect(pdu['content']).toEqual({});
      // Still the same, checkable event: hashes and signatures stay.
      expect(pdu['hashes']).toBeDefined();
      expect(pdu['signatures']).toBeDefined();
    }
  });

  it('serves them in full to a server whose user could see them before', async () => {
    for (const pdu of await served('b.test')) {
      expect(pdu['content']['body']).toBe('from alice');
    }
  });

  /** Alice's join as `server` gets it from `/state` at her message and from its `/event_auth`. */
  async function aliceJoins(server: string): Promise<Json[]> {
    const state = await from(
      server,
      'GET',
      matrixPath`/_matrix/federation/v1/state/${roomId}`,
      undefined,
      { event_id: erased },
    );
    const auth = await from(
      server,
      'GET',
      matrixPath`/_matrix/federation/v1/event_auth/${roomId}/${erased}`,
    );
    const find = (pdus: Json[]) =>
      pdus.find(
        (pdu) =>
          pdu['type'] === 'm.room.member' &&
          pdu['state_key'] === aliceId &&
          pdu['content']['membership'] === 'join',
      ) ?? {};
    return [find(state['pdus']), find(state['auth_chain']), find(auth['auth_chain'])];
  }

  it('redacts their member events in the state and auth chain for a server that joined after', async () => {
    for (const pdu of await aliceJoins('c.test')) {
      // The redaction keeps what the authorization rules read, and the signatures.
      expect(pdu['content']).toEqual({ membership: 'join' });
      expect(pdu['signatures']).toBeDefined();
    }
    for (const pdu of await aliceJoins('b.test')) {
      expect(pdu['content']['displayname']).toBe('Alice Liddell');
    }
  });

  it("the send_join answer as well: the joining server holds the erased user's join redacted", async () => {
    // Alice's join is in the auth chain of the state c.test joined with (her leave cites it).
    const join = await federation.server('a.test').services.ctx.db.queryOne<{ event_id: string }>(
      `SELECT event_id FROM events WHERE room_id = $1 AND type = 'm.room.member'
            AND state_key = $2 ORDER BY stream_position LIMIT 1`,
      [roomId, aliceId],
    );
    const held = async (server: string) =>
      (await federation.server(server).services.rooms.getEvent(join?.event_id ?? ''))?.pdu[
        'content'
      ];
    expect(await held('c.test')).toEqual({ membership: 'join' });
    expect(await held('b.test')).toEqual({ membership: 'join', displayname: 'Alice Liddell' });
  });
});
