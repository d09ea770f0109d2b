/**
 * History visibility per event (client-server-api "History visibility"): the room's
 * `m.room.history_visibility` changes mid-history, and what `/messages`, `/context`, `/event` and
 * `/sync` show each user follows the setting *at each event* and the user's membership then, not
 * today's value. Over federation (real TLS), `/backfill` sends the events a server may not see
 * redacted.
 */
import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { historyVisibilitySuite, setVisibility } from './history-visibility-suite.ts';
import { call, createRoom, type Json, sendText } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

historyVisibilitySuite();

describe('history visibility in federation backfill', () => {
  let federation: TestFederation;
  let a: TestServer;
  let b: TestServer;
  let roomId: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test']);
    a = federation.server('a.test');
    b = federation.server('b.test');
    const alice = await a.client.registerUser('alice');
    const bob = await b.client.registerUser('bob');
    roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    ids['shared'] = await sendText(a, alice, roomId, 'shared');
    await setVisibility(a, alice, roomId, 'joined');
    ids['joined'] = await sendText(a, alice, roomId, 'joined before b');
    await call(b, bob, 'POST', `${V3}/join/${enc(roomId)}?server_name=a.test`, {});
    ids['after'] = await sendText(a, alice, roomId, 'after b joined');
  }, 60_000);
  afterAll(() => federation.close());

  it('redacts events sent under joined before the server had a member', async () => {
    const body = await b.services.federation.client.request<Json>(
      'a.test',
      'GET',
      matrixPath`/_matrix/federation/v1/backfill/${roomId}`,
      undefined,
      { retry: false, query: { v: ids['after'] ?? '', limit: '50' } },
    );
    const messages = (body['pdus'] as Json[]).filter((pdu) => pdu['type'] === 'm.room.message');
    // Newest first: the visible message, then the redacted one (no body), then the shared one.
    expect(messages.map((pdu) => pdu['content']['body'])).toEqual([
      'after b joined',
      undefined,
      'shared',
    ]);
    // A redacted PDU keeps its hashes and signatures: B can still check it.
    expect(messages[1]?.['hashes']).toBeDefined();
    expect(messages[1]?.['signatures']).toBeDefined();
  });
});
