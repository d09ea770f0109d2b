/**
 * Serving a room's events to other servers (api/federation/event.ts, state-ids.ts,
 * get-missing-events.ts, backfill.ts): two TLS servers, a room on A joined from B; B's signed
 * requests get events, the state before an event with its auth chain, missing events and
 * backfill; a server with no member in the room gets nothing.
 */

import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { roomWithMessages, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import type { Json } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let roomId: string;
let messages: string[];

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  ({ roomId, messages } = await roomWithMessages(federation, 5));
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

function fromB<T = Json>(
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  query?: Record<string, string | string[]>,
) {
  return b.services.federation.client.request<T>('a.test', method, path, body, {
    ...(query !== undefined ? { query } : {}),
    retry: false,
  });
}

describe('serving events to servers in the room', () => {
  it('GET /event returns the PDU as signed', async () => {
    const body = await fromB('GET', matrixPath`/_matrix/federation/v1/event/${messages[0] ?? ''}`);
    const stored = await a.services.rooms.getEvent(messages[0] ?? '');
    expect(body['origin']).toBe('a.test');
    expect(body['pdus']).toEqual([stored?.pdu]);
  });

  it('GET /state_ids and /state return the state before the event and its auth chain', async () => {
    const last = messages[4] ?? '';
    const ids = await fromB(
      'GET',
      matrixPath`/_matrix/federation/v1/state_ids/${roomId}`,
      undefined,
      {
        event_id: last,
      },
    );
    const current = await a.services.rooms.currentState(roomId);
    expect([...(ids['pdu_ids'] as string[])].sort()).toEqual([...current.values()].sort());
    const create = (await a.services.rooms.currentStateEvent(roomId, 'm.room.create', ''))?.eventId;
    expect(create).toBeDefined();
    expect(ids['auth_chain_ids']).toContain(create);
    const full = await fromB('GET', matrixPath`/_matrix/federation/v1/state/${roomId}`, undefined, {
      event_id: last,
    });
    expect((full['pdus'] as Json[]).length).toBe((ids['pdu_ids'] as string[]).length);
    expect((full['auth_chain'] as Json[]).length).toBe((ids['auth_chain_ids'] as string[]).length);
  });

  it('POST /get_missing_events walks back to earliest_events, oldest first', async () => {
    const body = await fromB(
      'POST',
      matrixPath`/_matrix/federation/v1/get_missing_events/${roomId}`,
      {
        earliest_events: [messages[0]],
        latest_events: [messages[4]],
        limit: 10,
      },
    );
    const events = body['events'] as Json[];
    const bodies = events.map((event) => event['content']['body']);
    expect(bodies).toEqual(['m1', 'm2', 'm3']);
  });

  it('GET /backfill returns the given events and their ancestors, newest first', async () => {
    const body = await fromB(
      'GET',
      matrixPath`/_matrix/federation/v1/backfill/${roomId}`,
      undefined,
      {
        v: messages[4] ?? '',
        limit: '3',
      },
    );
    const bodies = (body['pdus'] as Json[]).map((event) => event['content']['body']);
    expect(bodies).toEqual(['m4', 'm3', 'm2']);
  });

  it('refuses a server with no member in the room', async () => {
    const c = federation.server('c.test');
    await expect(
      c.services.federation.client.request(
        'a.test',
        'GET',
        matrixPath`/_matrix/federation/v1/event/${messages[0] ?? ''}`,
        undefined,
        { retry: false },
      ),
    ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(
      c.services.federation.client.request(
        'a.test',
        'GET',
        matrixPath`/_matrix/federation/v1/state_ids/${roomId}`,
        undefined,
        { retry: false, query: { event_id: messages[0] ?? '' } },
      ),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});
