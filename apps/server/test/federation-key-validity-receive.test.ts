/**
 * Key validity on receipt (services/federation/keys/key-store.ts through the signature check of
 * inbound /send; spec room versions 5+: the signing key must be valid at the event's
 * `origin_server_ts`): the hand-written peer `m.test` (federation-peer.ts, over real TLS)
 * publishes its key valid for an hour. An event it signs for a time within that hour is
 * accepted; one it signs for a time after it is rejected at the signature check — the refetch
 * finds no key valid then — and not stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import { roomTip, tipAuthEvents } from './room-tip.ts';
import { createRoom, type Json } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';
let federation: TestFederation;
let peer: TestPeer;
let roomId: string;

async function malloryEvent(
  type: string,
  content: Record<string, unknown>,
  originServerTs: number,
  stateKey?: string,
): Promise<Record<string, unknown>> {
  const tip = await roomTip(federation.server('a.test'), roomId, MALLORY);
  return {
    auth_events: tipAuthEvents(tip),
    content,
    depth: tip.depth + 1,
    origin_server_ts: originServerTs,
    prev_events: tip.extremities,
    room_id: roomId,
    sender: MALLORY,
    type,
    ...(stateKey !== undefined ? { state_key: stateKey } : {}),
  };
}

function stored(eventId: string): Promise<{ rejected: number } | undefined> {
  return federation
    .server('a.test')
    .services.ctx.db.queryOne('SELECT rejected FROM events WHERE event_id = $1', [eventId]);
}

beforeAll(async () => {
  ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer));
  const a = federation.server('a.test');
  const alice = await a.client.registerUser('alice');
  roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
  const join = peer.sign(
    await malloryEvent('m.room.member', { membership: 'join' }, Date.now(), MALLORY),
    ROOM_VERSION,
  );
  expect(await peer.send('a.test', 'join-1', [join.pdu])).toEqual({
    pdus: { [join.eventId]: {} },
  });
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await peer?.down();
});

describe('inbound events and the validity of their signing key', () => {
  it('accepts an event signed while the key is valid, rejects one signed after', async () => {
    const within = peer.sign(
      await malloryEvent(
        'm.room.message',
        { msgtype: 'm.text', body: 'in time' },
        Date.now() + 1_800_000,
      ),
      ROOM_VERSION,
    );
    const ok = (await peer.send('a.test', 'within-1', [within.pdu])) as Json;
    expect(ok['pdus'][within.eventId]).toEqual({});

    // Two hours on: the key the peer publishes (valid for an hour) does not cover it.
    const after = peer.sign(
      await malloryEvent(
        'm.room.message',
        { msgtype: 'm.text', body: 'too late' },
        Date.now() + 7_200_000,
      ),
      ROOM_VERSION,
    );
    const refused = (await peer.send('a.test', 'after-1', [after.pdu])) as Json;
    expect(refused['pdus'][after.eventId]['error']).toMatch(/key|signature/i);
    expect(await stored(after.eventId)).toBeUndefined();
  });
});
