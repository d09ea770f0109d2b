/**
 * Server-side search (search-suite.ts) on SQLite, and search of events received over
 * federation: a message sent on another server is indexed by the receiving server as it arrives
 * (services/federation/event-handler/persist-remote.ts runs the same timeline listener), so its
 * `POST /search` finds it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { searchSuite } from './search-suite.ts';

searchSuite();

const enc = encodeURIComponent;
type Json = Record<string, unknown>;

describe('search of events received over federation', () => {
  let federation: TestFederation;
  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test']);
  }, 60_000);
  afterAll(() => federation.close());

  it('finds them on the receiving server', async () => {
    const { roomId, users } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
    ] as const);
    const [alice, bob] = users;
    const a = federation.client('a.test');
    const b = federation.client('b.test');
    const sent = await b.request(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/f1`,
      { token: bob.accessToken, body: { msgtype: 'm.text', body: 'greetings from pomegranate' } },
    );
    expect(sent.status).toBe(200);
    const eventId = String(sent.body['event_id']);
    await eventually(async () => {
      const answer = await a.request('POST', '/_matrix/client/v3/search', {
        token: alice.accessToken,
        body: { search_categories: { room_events: { search_term: 'pomegranate' } } },
      });
      const roomEvents = (answer.body['search_categories'] as Json)['room_events'] as Json;
      const results = (roomEvents['results'] ?? []) as Json[];
      return results.some((r) => (r['result'] as Json)['event_id'] === eventId);
    }, 'the message from b.test in /search on a.test');
  }, 60_000);
});
