/**
 * createRoom's `invite` with a user of another server (api/client/create-room.ts): the invitee's
 * server receives the invite over federation (server-server-api "Inviting to a room"), as with
 * POST /invite, once the room is committed; local invitees are invited in the creation itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { membership, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, type Json, sync, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let dave: TestUser;
let carol: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  dave = await a.client.registerUser('dave');
  carol = await b.client.registerUser('carol');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('createRoom invites a user of another server', () => {
  it('sends the invite to the invitee server; the invitee sees it and joins', async () => {
    const { room_id: roomId } = await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', {
      preset: 'private_chat',
      name: 'Direct',
      is_direct: true,
      invite: [carol.userId, dave.userId],
    });
    expect(await membership(a, roomId, dave.userId)).toBe('invite');
    expect(await membership(a, roomId, carol.userId)).toBe('invite');
    // The invite went through B: signed by both servers, and B knows of it.
    const invite = await a.services.rooms.currentStateEvent(roomId, 'm.room.member', carol.userId);
    const pdu = (invite as { pdu: Json }).pdu;
    expect(Object.keys(pdu['signatures']).sort()).toEqual(['a.test', 'b.test']);
    expect(pdu['content']['is_direct']).toBe(true);

    const body = await sync(b, carol);
    const invited: Json = body['rooms']['invite'][roomId];
    const events = invited['invite_state']['events'] as Json[];
    expect(events.find((e) => e['type'] === 'm.room.name')?.['content']['name']).toBe('Direct');

    await call(b, carol, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
    expect(await membership(a, roomId, carol.userId)).toBe('join');
    expect(await membership(b, roomId, carol.userId)).toBe('join');
  });
});
