/**
 * Event relationships (relations-suite.ts) on SQLite, and relations of events received over
 * federation: a thread reply and an edit sent on another server are indexed by the receiving
 * server as they arrive (services/federation/event-handler/persist-remote.ts runs the same
 * timeline listener), so its `/relations`, `/threads` and bundled aggregations show them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { relationsSuite } from './relations-suite.ts';

relationsSuite();

const enc = encodeURIComponent;
type Json = Record<string, unknown>;

describe('relations of events received over federation', () => {
  let federation: TestFederation;
  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test']);
  }, 60_000);
  afterAll(() => federation.close());

  it('are indexed by the receiving server', async () => {
    const { roomId, users } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
    ] as const);
    const [alice, bob] = users;
    const a = federation.client('a.test');
    const b = federation.client('b.test');
    const send = async (token: string, client: typeof a, txn: string, content: Json) => {
      const answer = await client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${txn}`,
        { token, body: content },
      );
      expect(answer.status).toBe(200);
      return String(answer.body['event_id']);
    };
    const root = await send(alice.accessToken, a, 'f1', { msgtype: 'm.text', body: 'root' });
    await eventually(async () => {
      const seen = await b.request(
        'GET',
        `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`,
        {
          token: bob.accessToken,
        },
      );
      return seen.status === 200;
    }, 'the root on b.test');
    const reply = await send(bob.accessToken, b, 'f2', {
      msgtype: 'm.text',
      body: 'from b',
      'm.relates_to': { rel_type: 'm.thread', event_id: root },
    });
    const relationsOnA = `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(root)}/m.thread`;
    await eventually(async () => {
      const listed = await a.request('GET', relationsOnA, { token: alice.accessToken });
      const chunk = (listed.body['chunk'] ?? []) as Json[];
      return chunk.some((event) => event['event_id'] === reply);
    }, 'the reply from b.test in /relations on a.test');
    const threads = await a.request('GET', `/_matrix/client/v1/rooms/${enc(roomId)}/threads`, {
      token: alice.accessToken,
    });
    expect((threads.body['chunk'] as Json[]).map((event) => event['event_id'])).toEqual([root]);
    const event = await a.request(
      'GET',
      `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(root)}`,
      {
        token: alice.accessToken,
      },
    );
    const bundle = ((event.body['unsigned'] as Json)['m.relations'] as Json)['m.thread'] as Json;
    expect(bundle['count']).toBe(1);
    expect((bundle['latest_event'] as Json)['event_id']).toBe(reply);
    expect(bundle['current_user_participated']).toBe(true);
  }, 60_000);
});
