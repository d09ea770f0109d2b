/**
 * Room upgrades with an additional creator of another server (api/client/room-upgrade.ts): the
 * creator's server receives the invite to the new room over federation (server-server-api
 * "Inviting to a room"), as createRoom and POST /invite invite remote users, once the upgrade is
 * committed; a local additional creator is invited inside the upgrade.
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

const enc = encodeURIComponent;

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

describe('upgrading a room with an additional creator of another server', () => {
  it('invites the remote creator through their server; they see the invite and join', async () => {
    const { room_id: oldRoom } = await call(a, alice, 'POST', '/_matrix/client/v3/createRoom', {
      preset: 'private_chat',
      room_version: '11',
      name: 'Upgraded together',
    });
    const { replacement_room: newRoom } = await call(
      a,
      alice,
      'POST',
      `/_matrix/client/v3/rooms/${enc(oldRoom)}/upgrade`,
      { new_version: '12', additional_creators: [carol.userId, dave.userId] },
    );
    const create = await a.services.rooms.currentStateEvent(newRoom, 'm.room.create', '');
    expect((create as { pdu: Json }).pdu['content']['additional_creators']).toEqual([
      carol.userId,
      dave.userId,
    ]);
    expect(await membership(a, newRoom, dave.userId)).toBe('invite');
    expect(await membership(a, newRoom, carol.userId)).toBe('invite');
    // The invite went through B: signed by both servers, and B knows of it.
    const invite = await a.services.rooms.currentStateEvent(newRoom, 'm.room.member', carol.userId);
    const pdu = (invite as { pdu: Json }).pdu;
    expect(Object.keys(pdu['signatures']).sort()).toEqual(['a.test', 'b.test']);

    const body = await sync(b, carol);
    const invited: Json = body['rooms']['invite'][newRoom];
    const events = invited['invite_state']['events'] as Json[];
    expect(events.find((e) => e['type'] === 'm.room.name')?.['content']['name']).toBe(
      'Upgraded together',
    );

    await call(b, carol, 'POST', `/_matrix/client/v3/rooms/${enc(newRoom)}/join`, {});
    expect(await membership(a, newRoom, carol.userId)).toBe('join');
    expect(await membership(b, newRoom, carol.userId)).toBe('join');
  });
});
