/**
 * The resident server's `send_join` answer (membership/join-answer.ts), which splices stored PDU
 * texts into the body instead of parsing and re-serializing each event: over real TLS between
 * two harness servers, in a room with some history (a member who joined, left and joined again,
 * changed power levels, a name), the answer must hold exactly the PDUs A stored for the state
 * before the join, and an auth chain equal to @weft/dag's `authChain` of that state plus the
 * join's own auth events (spec server-server-api "PUT /v2/send_join").
 */
import { authChain, type DagEvent } from '@weft/dag';
import { computeEventId, signEvent } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { authEventsOfText } from '../src/services/federation/membership/join-answer.ts';
import { toDagEvent } from '../src/services/rooms/auth.ts';
import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let carol: TestUser;
let bob: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  carol = await a.client.registerUser('carol');
  bob = await b.client.registerUser('bob');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('send_join answer (join-answer.ts)', () => {
  it('holds the stored PDUs of the state before the join and their full auth chain', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat', name: 'History' });
    const room = (path: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${path}`;
    // History whose auth chain reaches past the current state: carol's second join cites her
    // leave, which cites her first join; the power levels were replaced.
    await call(a, carol, 'POST', room('/join'), {});
    await call(a, carol, 'POST', room('/leave'), {});
    await call(a, carol, 'POST', room('/join'), {});
    const levels = await call(a, alice, 'GET', room('/state/m.room.power_levels/'));
    await call(a, alice, 'PUT', room('/state/m.room.power_levels/'), {
      ...levels,
      users: { ...(levels['users'] as Json), [carol.userId]: 50 },
    });
    await call(a, alice, 'PUT', room('/state/m.room.name/'), { name: 'History, renamed' });
    const stateBefore = await a.services.rooms.currentState(roomId);

    const template = await b.services.federation.client.request<Json>(
      'a.test',
      'GET',
      `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(bob.userId)}?ver=10&ver=11&ver=12`,
    );
    const version = template['room_version'] as string;
    const pdu = { ...template['event'], origin: 'b.test', origin_server_ts: Date.now() };
    const signed = signEvent(pdu, version, 'b.test', b.services.ctx.signingKey);
    const eventId = computeEventId(signed, version);
    const answer = await b.services.federation.client.request<Json>(
      'a.test',
      'PUT',
      `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
      signed,
    );
    expect(answer['origin']).toBe('a.test');
    expect(answer['members_omitted']).toBe(false);
    expect(answer['event']).toEqual(signed);

    const byId = (pdus: Json[]) =>
      new Map(pdus.map((event) => [computeEventId(event, version), event]));
    const state = byId(answer['state'] as Json[]);
    const chain = byId(answer['auth_chain'] as Json[]);
    // The state: exactly the events of the state before the join, each the PDU A stored.
    const stateIds = [...stateBefore.values()];
    expect(new Set(state.keys())).toEqual(new Set(stateIds));
    const stored = await a.services.rooms.events.getMany(a.services.ctx.db, [
      ...state.keys(),
      ...chain.keys(),
    ]);
    for (const [id, event] of [...state, ...chain]) expect(event).toEqual(stored.get(id)?.pdu);
    // The auth chain: what @weft/dag computes over A's store, plus the join's auth events.
    const fetch = async (ids: readonly string[]): Promise<DagEvent[]> =>
      [...(await a.services.rooms.events.getMany(a.services.ctx.db, ids)).values()].map(toDagEvent);
    const joinAuth = signed['auth_events'] as string[];
    const expected = await authChain([...stateIds, ...joinAuth], fetch);
    for (const id of joinAuth) expected.add(id);
    expect(new Set(chain.keys())).toEqual(expected);
    // Carol's first join is no longer state but is in the chain (her leave cites it).
    const carolNow = stateIds.find((id) => state.get(id)?.['state_key'] === carol.userId);
    const carolJoins = [...chain].filter(
      ([, event]) =>
        event['state_key'] === carol.userId && (event['content'] as Json)['membership'] === 'join',
    );
    expect(carolJoins.length).toBe(1);
    expect(carolJoins[0]?.[0]).not.toBe(carolNow);
  });
});

describe('auth events read from a stored PDU text (authEventsOfText)', () => {
  const text = (pdu: Json): string => JSON.stringify(pdu);
  const base = { type: 'm.room.member', state_key: '@u:a.test', sender: '@u:a.test' };

  it('reads the top-level auth_events wherever the key stands', () => {
    expect(authEventsOfText(text({ auth_events: ['$a', '$b'], ...base }))).toEqual(['$a', '$b']);
    expect(authEventsOfText(text({ ...base, auth_events: ['$a'], depth: 3 }))).toEqual(['$a']);
    expect(authEventsOfText(text({ ...base, auth_events: [] }))).toEqual([]);
  });

  it('is not fooled by the same key or text inside the content', () => {
    // A nested key before the real one: two occurrences, so the whole text is parsed.
    const nested = { ...base, content: { auth_events: ['$fake'] }, auth_events: ['$real'] };
    expect(authEventsOfText(text(nested))).toEqual(['$real']);
    // The needle's text inside a string value is escaped, so it never matches.
    const inString = { ...base, content: { body: '"auth_events":["$fake"]' }, auth_events: ['$r'] };
    expect(authEventsOfText(text(inString))).toEqual(['$r']);
  });

  it('parses the whole text for anything but an array of plain strings', () => {
    // Escapes in an ID, and room versions 1–2's [id, hashes] pairs (no string IDs).
    expect(authEventsOfText(text({ ...base, auth_events: ['$a"]', '$b\\'] }))).toEqual([
      '$a"]',
      '$b\\',
    ]);
    const pairs = { ...base, auth_events: [['$a:a.test', { sha256: 'x' }]] };
    expect(authEventsOfText(text(pairs))).toEqual([]);
  });
});
