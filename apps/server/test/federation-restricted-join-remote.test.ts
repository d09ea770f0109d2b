/**
 * Remote users joining this server's `restricted` / `knock_restricted` rooms (spec
 * server-server-api "Joining Rooms" → `GET /v1/make_join`, `PUT /v2/send_join`, restricted
 * rooms; client-server-api "Restricted rooms"; authorization rules of room versions 8+): A, the
 * resident server, names one of its users who can invite in the template's
 * `join_authorised_via_users_server` when the joining user is in an allowed room A is in, and
 * signs the join on send_join; B, the joining server, keeps the field and takes A's signature
 * from the answer's `event`. Refusals: 403 `M_FORBIDDEN` when A can tell the user is in no
 * allowed room, 400 `M_UNABLE_TO_AUTHORISE_JOIN` when A is in none of the allowed rooms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { joinVia, membership, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;
/** A public room on A that bob (of B) joined: the allowed room. */
let space: string;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  bob = await b.client.registerUser('bob');
  carol = await b.client.registerUser('carol');
  space = await createRoom(a, alice, [], { preset: 'public_chat' });
  await joinVia(b.client, bob, space, 'a.test');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

/** A private room on A whose join rule is `joinRule`, allowing the members of `allowed`. */
async function restrictedRoom(joinRule: string, allowed: string): Promise<string> {
  const roomId = await createRoom(a, alice, [], {
    preset: 'private_chat',
    room_version: ROOM_VERSION,
  });
  await call(
    a,
    alice,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.join_rules/`,
    { join_rule: joinRule, allow: [{ type: 'm.room_membership', room_id: allowed }] },
  );
  return roomId;
}

async function joinPdu(server: TestServer, roomId: string, userId: string): Promise<Json> {
  const event = await server.services.rooms.currentStateEvent(roomId, 'm.room.member', userId);
  return (event as { pdu: Json }).pdu;
}

async function joinThroughA(
  user: TestUser,
  roomId: string,
): Promise<{ status: number; body: Json }> {
  const response = await b.client.request(
    'POST',
    `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?via=a.test`,
    { body: {}, token: user.accessToken },
  );
  return { status: response.status, body: response.body as Json };
}

describe.each(['restricted', 'knock_restricted'])('a remote user joins a %s room', (joinRule) => {
  it('member of an allowed room: the join names alice and carries both servers’ signatures', async () => {
    const roomId = await restrictedRoom(joinRule, space);
    const joined = await joinThroughA(bob, roomId);
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    expect(await membership(a, roomId, bob.userId)).toBe('join');
    expect(await membership(b, roomId, bob.userId)).toBe('join');
    for (const server of [a, b]) {
      const pdu = await joinPdu(server, roomId, bob.userId);
      expect(pdu['content']['join_authorised_via_users_server']).toBe(alice.userId);
      expect(Object.keys(pdu['signatures']).sort()).toEqual(['a.test', 'b.test']);
    }
  });

  it('member of no allowed room: 403 M_FORBIDDEN, no join anywhere', async () => {
    const roomId = await restrictedRoom(joinRule, space);
    const refused = await joinThroughA(carol, roomId);
    expect(refused.status).toBe(403);
    expect(refused.body['errcode']).toBe('M_FORBIDDEN');
    expect(await membership(a, roomId, carol.userId)).toBe('none');
    expect(await membership(b, roomId, carol.userId)).toBe('none');
  });
});

describe('a resident server that cannot authorise', () => {
  it('is in none of the allowed rooms: 400 M_UNABLE_TO_AUTHORISE_JOIN', async () => {
    const roomId = await restrictedRoom('restricted', '!elsewhere:c.test');
    const refused = await joinThroughA(bob, roomId);
    expect(refused.status).toBe(400);
    expect(refused.body['errcode']).toBe('M_UNABLE_TO_AUTHORISE_JOIN');
    expect(await membership(a, roomId, bob.userId)).toBe('none');
  });
});
