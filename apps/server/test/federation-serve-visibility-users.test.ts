/**
 * Per-event history visibility for a server with several users in the room
 * (services/rooms/event-visibility.ts `eventVisibilityForServer`, behind `/event`,
 * `/get_missing_events` and `/backfill`): under `joined`, an event is served in full when any of
 * the asking server's users was joined at it — users who joined at different times, and left —
 * and redacted otherwise. Their membership histories are read in a bounded number of statements,
 * not one per user.
 */
import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventVisibilityForServer } from '../src/services/rooms/event-visibility.ts';
import type { StoredEvent } from '../src/services/rooms/types.ts';
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
/** Message ID → whether b.test may see it in full. */
const expected = new Map<string, boolean>();

async function as(
  server: string,
  user: { accessToken: string },
  method: string,
  path: string,
  body: unknown,
): Promise<Json> {
  const response = await federation
    .client(server)
    .request(method, path, { body, token: user.accessToken });
  if (response.status !== 200) {
    throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response.body as Json;
}

async function say(text: string, visibleToB: boolean): Promise<string> {
  const path = matrixPath`/_matrix/client/v3/rooms/${roomId}/send/m.room.message/${text}`;
  const id = String(
    (await as('a.test', alice, 'PUT', path, { msgtype: 'm.text', body: text }))['event_id'],
  );
  expected.set(id, visibleToB);
  return id;
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  alice = await federation.client('a.test').registerUser('alice');
  const b = federation.client('b.test');
  const [bob1, bob2, bob3] = [
    await b.registerUser('bob1'),
    await b.registerUser('bob2'),
    await b.registerUser('bob3'),
  ];
  roomId = await createPublicRoom(federation.client('a.test'), alice, {
    initial_state: [
      {
        type: 'm.room.history_visibility',
        state_key: '',
        content: { history_visibility: 'joined' },
      },
    ],
  });
  await say('before anyone of b', false);
  await joinVia(b, bob1, roomId, 'a.test');
  await say('bob1 joined', true);
  await joinVia(b, bob2, roomId, 'a.test');
  await say('bob1 and bob2 joined', true);
  await as('b.test', bob1, 'POST', matrixPath`/_matrix/client/v3/rooms/${roomId}/leave`, {});
  await say('bob2 joined', true);
  await as('b.test', bob2, 'POST', matrixPath`/_matrix/client/v3/rooms/${roomId}/leave`, {});
  await say('both left', false);
  await joinVia(b, bob3, roomId, 'a.test');
  await say('bob3 joined', true);
}, 120_000);

afterAll(async () => {
  await federation?.close();
});

describe('history visibility for a server with several users', () => {
  it('GET /event serves each event in full when one of its users was joined, else redacted', async () => {
    const a = federation.server('a.test');
    for (const [id, visible] of expected) {
      const answer = await federation
        .server('b.test')
        .services.federation.client.request<Json>(
          'a.test',
          'GET',
          matrixPath`/_matrix/federation/v1/event/${id}`,
          undefined,
          { retry: false },
        );
      const pdu = (answer['pdus'] as Json[])[0] as Json;
      const stored = (await a.services.rooms.getEvent(id))?.pdu as Json;
      if (visible) expect(pdu, id).toEqual(stored);
      else expect(pdu['content'], id).toEqual({});
    }
  });

  it('reads the users’ membership histories in a bounded number of statements', async () => {
    const a = federation.server('a.test');
    const events = (await Promise.all(
      [...expected.keys()].map((id) => a.services.rooms.getEvent(id)),
    )) as StoredEvent[];
    const db = a.services.ctx.db;
    const query = db.query.bind(db);
    const statements: string[] = [];
    db.query = ((sql, params) => {
      statements.push(sql);
      return query(sql, params);
    }) as typeof db.query;
    let visible: Set<string>;
    try {
      visible = await eventVisibilityForServer(db, roomId, 'b.test', events);
    } finally {
      db.query = query;
    }
    expect(new Map([...expected.keys()].map((id) => [id, visible.has(id)]))).toEqual(expected);
    // Visibility changes, the room's users, and one IN list for b.test's three users.
    expect(statements.length).toBeLessThanOrEqual(3);
  });
});
