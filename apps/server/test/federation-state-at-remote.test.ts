/**
 * What `a.test` answers about a remote state event (api/federation/state-ids.ts, event-auth.ts),
 * against the test peer `m.test` (federation-peer.ts):
 * - `GET /state_ids` and `/state` answer the state before the event (spec server-server-api
 *   "GET /_matrix/federation/v1/state_ids/{roomId}"), computed from its prev events' states —
 *   not from `unsigned.replaces_state`, which events received over federation do not carry: a
 *   remote member change with two prev events must answer the member event it replaces;
 * - `GET /event_auth/{roomId}/{eventId}` (spec "Retrieving the auth chain of an event") answers
 *   the event's full auth chain as PDUs, to servers in the room only.
 */
import { computeEventId, type JsonObject } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import { forwardExtremities, maxDepth, roomTip } from './room-tip.ts';
import { createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';
let federation: TestFederation;
let peer: TestPeer;
let alice: TestUser;
let roomId: string;
let join: string;
let change: string;
let stateBeforeChange: string[];

/** Mallory's event on `prev` (default: A's forward extremities), signed by m.test. */
async function mallory(
  type: string,
  content: Json,
  options: { stateKey?: string; prev?: string[] } = {},
): Promise<{ pdu: Json; eventId: string }> {
  const a = federation.server('a.test');
  const tip = await roomTip(a, roomId, MALLORY);
  return peer.sign(
    {
      auth_events: [tip.create, tip.powerLevels, tip.member ?? tip.joinRules],
      content,
      depth: (await maxDepth(a, roomId)) + 1,
      origin: 'm.test',
      origin_server_ts: Date.now(),
      prev_events: options.prev ?? (await forwardExtremities(a, roomId)),
      room_id: roomId,
      sender: MALLORY,
      type,
      ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }),
    },
    ROOM_VERSION,
  );
}

async function send(txnId: string, event: { pdu: Json; eventId: string }): Promise<void> {
  expect(await peer.send('a.test', txnId, [event.pdu])).toEqual({ pdus: { [event.eventId]: {} } });
}

beforeAll(async () => {
  ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer));
  const a = federation.server('a.test');
  alice = await a.client.registerUser('alice');
  roomId = await createRoom(a, alice, [], { preset: 'public_chat', room_version: ROOM_VERSION });
  const joined = await mallory('m.room.member', { membership: 'join' }, { stateKey: MALLORY });
  await send('sa-join', joined);
  join = joined.eventId;
  // A fork: alice's message and mallory's both follow the join, so the member change below has
  // two prev events.
  await sendText(a, alice, roomId, 'from alice');
  await send(
    'sa-fork',
    await mallory('m.room.message', { msgtype: 'm.text', body: 'from m' }, { prev: [join] }),
  );
  expect((await forwardExtremities(a, roomId)).length).toBe(2);
  stateBeforeChange = [...(await a.services.rooms.currentState(roomId)).values()].sort();
  const renamed = await mallory(
    'm.room.member',
    { membership: 'join', displayname: 'Mallory' },
    { stateKey: MALLORY },
  );
  await send('sa-change', renamed);
  change = renamed.eventId;
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await peer?.down();
});

const q = encodeURIComponent;

describe('/state_ids and /state at a remote state event', () => {
  it('answer the state before it, with the member event it replaces', async () => {
    const ids = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/state_ids/${q(roomId)}?event_id=${q(change)}`,
    );
    expect(ids.status, JSON.stringify(ids.body)).toBe(200);
    const pduIds = [...(ids.body['pdu_ids'] as string[])].sort();
    expect(pduIds).toContain(join);
    expect(pduIds).not.toContain(change);
    expect(pduIds).toEqual(stateBeforeChange);

    const full = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/state/${q(roomId)}?event_id=${q(change)}`,
    );
    expect(full.status).toBe(200);
    const stateIds = (full.body['pdus'] as JsonObject[]).map((pdu) =>
      computeEventId(pdu, ROOM_VERSION),
    );
    expect(stateIds.sort()).toEqual(stateBeforeChange);
  });
});

describe('GET /event_auth/{roomId}/{eventId}', () => {
  /** The auth chain of `eventId` as A stores it, walked in the test. */
  async function expectedChain(eventId: string): Promise<string[]> {
    const a = federation.server('a.test');
    const seen = new Set<string>();
    const authEvents = async (id: string): Promise<string[]> =>
      ((await a.services.rooms.getEvent(id))?.pdu['auth_events'] as string[] | undefined) ?? [];
    const queue = await authEvents(eventId);
    while (queue.length > 0) {
      const id = queue.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push(...(await authEvents(id)));
    }
    return [...seen].sort();
  }

  it('answers the full auth chain of a remote event as PDUs', async () => {
    const answer = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/event_auth/${q(roomId)}/${q(change)}`,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const ids = (answer.body['auth_chain'] as JsonObject[]).map((pdu) =>
      computeEventId(pdu, ROOM_VERSION),
    );
    const expected = await expectedChain(change);
    expect(expected).toContain(join);
    expect(ids.sort()).toEqual(expected);
  });

  it('refuses a server with no member in the room, and answers 404 for an unknown event', async () => {
    const a = federation.server('a.test');
    const other = await createRoom(a, alice, [], { preset: 'public_chat' });
    const create =
      (await a.services.rooms.currentStateEvent(other, 'm.room.create', ''))?.eventId ?? '';
    const refused = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/event_auth/${q(other)}/${q(create)}`,
    );
    expect(refused.status).toBe(403);
    const unknown = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/event_auth/${q(roomId)}/${q('$nope')}`,
    );
    expect(unknown.status).toBe(404);
  });
});
