/**
 * Who may read a room's events over federation (services/federation/visibility.ts). Room level
 * (server-server-api OpenAPI: 403 "the requesting host is not in the room"): only a server with
 * a user joined now — a server that only knocked, or whose user was banned, gets nothing from
 * `/event`, `/state`, `/state_ids`, `/event_auth`, `/get_missing_events`, `/backfill` or
 * `/timestamp_to_event`. Event level (client-server-api "History visibility" → "Server
 * behaviour"): under `joined`, a server whose user joined after event E gets E redacted from
 * `/event`, `/get_missing_events` and `/backfill`, and later events in full.
 */
import { type MatrixError, matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createPublicRoom,
  type FederatedUser,
  joinVia,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { Json } from './sync-helpers.ts';

let federation: TestFederation;
let alice: FederatedUser;
let roomId: string;
/** Sent under `joined` before any remote user joined. */
let secret: string;
/** Sent after bob and dave joined. */
let later: string;
/** Sent last, after carol's knock. */
let last: string;

async function aliceDoes(method: string, path: string, body: unknown): Promise<Json> {
  const response = await federation
    .client('a.test')
    .request(method, path, { body, token: alice.accessToken });
  if (response.status !== 200) {
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body as Json;
}

async function say(text: string): Promise<string> {
  const path = matrixPath`/_matrix/client/v3/rooms/${roomId}/send/m.room.message/${text}`;
  return String((await aliceDoes('PUT', path, { msgtype: 'm.text', body: text }))['event_id']);
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test', 'd.test']);
  alice = await federation.client('a.test').registerUser('alice');
  const bob = await federation.client('b.test').registerUser('bob');
  const carol = await federation.client('c.test').registerUser('carol');
  const dave = await federation.client('d.test').registerUser('dave');
  roomId = await createPublicRoom(federation.client('a.test'), alice, {
    initial_state: [
      {
        type: 'm.room.history_visibility',
        state_key: '',
        content: { history_visibility: 'joined' },
      },
    ],
  });
  secret = await say('secret');
  await joinVia(federation.client('b.test'), bob, roomId, 'a.test');
  await joinVia(federation.client('d.test'), dave, roomId, 'a.test');
  later = await say('later');
  await aliceDoes('POST', matrixPath`/_matrix/client/v3/rooms/${roomId}/ban`, {
    user_id: dave.userId,
  });
  await aliceDoes('PUT', matrixPath`/_matrix/client/v3/rooms/${roomId}/state/m.room.join_rules/`, {
    join_rule: 'knock',
  });
  const knocked = await federation
    .client('c.test')
    .request('POST', `${matrixPath`/_matrix/client/v3/knock/${roomId}`}?via=a.test`, {
      body: {},
      token: carol.accessToken,
    });
  expect(knocked.status).toBe(200);
  last = await say('last');
  const a = federation.server('a.test');
  const member = (user: string) =>
    a.services.rooms.currentStateEvent(roomId, 'm.room.member', user);
  expect((await member(carol.userId))?.pdu['content']).toMatchObject({ membership: 'knock' });
  expect((await member(dave.userId))?.pdu['content']).toMatchObject({ membership: 'ban' });
}, 90_000);

afterAll(async () => {
  await federation?.close();
});

function from<T = Json>(
  server: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  query?: Record<string, string | string[]>,
): Promise<T> {
  return federation
    .server(server)
    .services.federation.client.request<T>('a.test', method, path, body, {
      ...(query !== undefined ? { query } : {}),
      retry: false,
    });
}

/** Every room-level read, as `server` asks it. */
function reads(server: string): Record<string, () => Promise<Json>> {
  return {
    event: () => from(server, 'GET', matrixPath`/_matrix/federation/v1/event/${later}`),
    state: () =>
      from(server, 'GET', matrixPath`/_matrix/federation/v1/state/${roomId}`, undefined, {
        event_id: last,
      }),
    state_ids: () =>
      from(server, 'GET', matrixPath`/_matrix/federation/v1/state_ids/${roomId}`, undefined, {
        event_id: last,
      }),
    event_auth: () =>
      from(server, 'GET', matrixPath`/_matrix/federation/v1/event_auth/${roomId}/${last}`),
    get_missing_events: () =>
      from(server, 'POST', matrixPath`/_matrix/federation/v1/get_missing_events/${roomId}`, {
        earliest_events: [],
        latest_events: [last],
        limit: 20,
      }),
    backfill: () =>
      from(server, 'GET', matrixPath`/_matrix/federation/v1/backfill/${roomId}`, undefined, {
        v: last,
        limit: '20',
      }),
    timestamp_to_event: () =>
      from(
        server,
        'GET',
        matrixPath`/_matrix/federation/v1/timestamp_to_event/${roomId}`,
        undefined,
        { ts: String(Date.now() + 60_000), dir: 'b' },
      ),
  };
}

describe('room-level gate: a user of the server joined now', () => {
  for (const [server, what] of [
    ['c.test', 'a server that only knocked'],
    ['d.test', 'a server whose user was banned'],
  ] as const) {
    it(`refuses ${what} on every event endpoint`, async () => {
      for (const [name, read] of Object.entries(reads(server))) {
        const error = (await read().then(
          () => undefined,
          (e: unknown) => e,
        )) as MatrixError | undefined;
        expect(error, name).toBeDefined();
        // GET /event answers as for an unknown event (its OpenAPI has no 403); the others 403.
        if (name === 'event') expect(error?.errcode, name).toBe('M_NOT_FOUND');
        else expect(error?.status, name).toBe(403);
      }
    });
  }

  it('answers a server with a joined user on every event endpoint', async () => {
    for (const [name, read] of Object.entries(reads('b.test'))) {
      await expect(read(), name).resolves.toBeDefined();
    }
  });
});

describe('per-event history visibility for a server in the room', () => {
  const bodyOf = (pdus: Json[], id: string) =>
    pdus.find((pdu) => pdu['event_id'] === id || pdu['content']?.['body'] === id);

  async function pduOf(id: string): Promise<Json> {
    const stored = await federation.server('a.test').services.rooms.getEvent(id);
    return stored?.pdu as Json;
  }

  it('GET /event serves an event from before its users joined redacted, later ones in full', async () => {
    const hidden = await from('b.test', 'GET', matrixPath`/_matrix/federation/v1/event/${secret}`);
    const pdu = (hidden['pdus'] as Json[])[0] as Json;
    expect(pdu['content']).toEqual({});
    expect(pdu['hashes']).toEqual((await pduOf(secret))['hashes']);
    const shown = await from('b.test', 'GET', matrixPath`/_matrix/federation/v1/event/${later}`);
    expect((shown['pdus'] as Json[])[0]).toEqual(await pduOf(later));
  });

  it('POST /get_missing_events and GET /backfill redact it too', async () => {
    const missing = (await reads('b.test')['get_missing_events']?.()) as Json;
    const events = missing['events'] as Json[];
    const backfill = (await reads('b.test')['backfill']?.()) as Json;
    const pdus = backfill['pdus'] as Json[];
    for (const list of [events, pdus]) {
      const stored = await pduOf(secret);
      const served = list.find((pdu) => pdu['hashes']?.['sha256'] === stored['hashes']['sha256']);
      expect(served?.['content']).toEqual({});
      expect(list).toContainEqual(await pduOf(later));
      expect(bodyOf(list, 'secret')).toBeUndefined();
    }
  });
});
