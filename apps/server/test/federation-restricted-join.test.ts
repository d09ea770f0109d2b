/**
 * A `restricted` room's join carries `join_authorised_via_users_server`; spec server-server-api
 * "Validating hashes and signatures on received events" requires such a join to be signed by
 * the server of that user as well as by the sender's server (the signature half of auth rule
 * 5.3.5.2, room versions 8+). A peer `m.test` that signs a join naming `@alice:a.test` as its
 * authoriser with only its own key must be refused on every receipt path — `/send` and
 * `send_join` — and the same join with `a.test`'s signature too is accepted.
 */
import { signEvent } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import { roomTip } from './room-tip.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
let federation: TestFederation;
let peer: TestPeer;
let alice: TestUser;

beforeAll(async () => {
  ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer));
  alice = await federation.server('a.test').client.registerUser('alice');
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await peer?.down();
});

/** A room on A whose join rule is `restricted` (members of a space room may join). */
async function restrictedRoom(): Promise<string> {
  const a = federation.server('a.test');
  const space = await createRoom(a, alice, [], { preset: 'public_chat' });
  const roomId = await createRoom(a, alice, [], {
    preset: 'private_chat',
    room_version: ROOM_VERSION,
  });
  await call(
    a,
    alice,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.join_rules/`,
    {
      join_rule: 'restricted',
      allow: [{ type: 'm.room_membership', room_id: space }],
    },
  );
  return roomId;
}

/** `user`'s join of `roomId` naming alice as its authoriser, signed by m.test (and A if `both`). */
async function restrictedJoin(
  roomId: string,
  user: string,
  both: boolean,
): Promise<{ pdu: Json; eventId: string }> {
  const a = federation.server('a.test');
  const tip = await roomTip(a, roomId, alice.userId);
  const event = {
    auth_events: [tip.create, tip.powerLevels, tip.joinRules, tip.member ?? ''],
    content: { membership: 'join', join_authorised_via_users_server: alice.userId },
    depth: tip.depth + 1,
    origin: 'm.test',
    origin_server_ts: Date.now(),
    prev_events: tip.extremities,
    room_id: roomId,
    sender: user,
    state_key: user,
    type: 'm.room.member',
  };
  const signed = peer.sign(event, ROOM_VERSION);
  if (!both) return signed;
  const pdu = signEvent(signed.pdu as never, ROOM_VERSION, 'a.test', a.services.ctx.signingKey);
  return { pdu, eventId: signed.eventId };
}

async function membership(roomId: string, user: string): Promise<string> {
  const a = federation.server('a.test');
  return (await a.services.rooms.membership(roomId, user))?.membership ?? 'none';
}

describe('restricted joins need the authorising server’s signature', () => {
  it('/send: refuses a join signed only by the sender’s server, accepts one signed by both', async () => {
    const roomId = await restrictedRoom();
    const forged = await restrictedJoin(roomId, '@mallory:m.test', false);
    const refused = (await peer.send('a.test', `rj-1-${roomId}`, [forged.pdu])) as Json;
    expect(refused['pdus'][forged.eventId]['error']).toMatch(/signature/);
    expect(await membership(roomId, '@mallory:m.test')).toBe('none');

    const good = await restrictedJoin(roomId, '@mallory:m.test', true);
    const accepted = (await peer.send('a.test', `rj-2-${roomId}`, [good.pdu])) as Json;
    expect(accepted).toEqual({ pdus: { [good.eventId]: {} } });
    expect(await membership(roomId, '@mallory:m.test')).toBe('join');
  });

  it('send_join: refuses a join signed only by the sender’s server, accepts one signed by both', async () => {
    const roomId = await restrictedRoom();
    const path = (eventId: string): string =>
      `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`;
    const forged = await restrictedJoin(roomId, '@mallory:m.test', false);
    const refused = await peer.request('a.test', 'PUT', path(forged.eventId), forged.pdu);
    expect(refused.status).toBe(403);
    expect(await membership(roomId, '@mallory:m.test')).toBe('none');

    const good = await restrictedJoin(roomId, '@mallory:m.test', true);
    const accepted = await peer.request('a.test', 'PUT', path(good.eventId), good.pdu);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(await membership(roomId, '@mallory:m.test')).toBe('join');
  });
});
