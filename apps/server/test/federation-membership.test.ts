/**
 * Federation membership over real TLS on loopback (services/federation/membership,
 * api/federation/make-join.ts, send-join.ts, make-leave.ts, send-leave.ts, invite.ts, and the
 * client API's join/invite/leave of remote rooms): two servers of the federation harness, a
 * user on each.
 */

import { computeEventId, signEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually, joinVia, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;

async function register(server: TestServer, name: string): Promise<TestUser> {
  return server.client.registerUser(name);
}

async function membership(server: TestServer, roomId: string, userId: string): Promise<string> {
  return (await server.services.rooms.membership(roomId, userId))?.membership ?? 'none';
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await register(a, 'alice');
  bob = await register(b, 'bob');
  await call(a, alice, 'PUT', `/_matrix/client/v3/profile/${alice.userId}/displayname`, {
    displayname: 'Alice A',
  });
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('joining a room on another server (remote-join.ts, make-join.ts, send-join.ts)', () => {
  it('joins through server_name; both servers agree on the members and the state', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat', name: 'Lobby' });
    const joined = await call(
      b,
      bob,
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      {},
    );
    expect(joined['room_id']).toBe(roomId);
    // The resident server stored the join as an event of the room.
    expect(await membership(a, roomId, bob.userId)).toBe('join');
    expect(await membership(b, roomId, bob.userId)).toBe('join');
    expect(await membership(b, roomId, alice.userId)).toBe('join');
    // B now holds the room's state: the same create event and the same current state map.
    const stateA = await a.services.rooms.currentState(roomId);
    const stateB = await b.services.rooms.currentState(roomId);
    expect(new Map(stateB)).toEqual(new Map(stateA));
    // And serves it to its client like a local room.
    const body = await sync(b, bob);
    const room: Json = body['rooms']['join'][roomId];
    const stateTypes = [...room['state']['events'], ...room['timeline']['events']].map(
      (event: Json) => event['type'],
    );
    expect(stateTypes).toContain('m.room.create');
    expect(stateTypes).toContain('m.room.name');
    const names = await call(b, bob, 'GET', `/_matrix/client/v3/rooms/${roomId}/state/m.room.name`);
    expect(names['name']).toBe('Lobby');
  });

  it('exchanges messages both ways after the join', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    await joinVia(b.client, bob, roomId, 'a.test');
    await sendText(a, alice, roomId, 'hello from A');
    await sendText(b, bob, roomId, 'hello from B');
    const bodies = async (server: TestServer): Promise<string[]> => {
      const slice = await server.services.rooms.timeline(roomId, {
        toPosition: Number.MAX_SAFE_INTEGER,
        limit: 100,
      });
      return slice.events
        .filter((event) => event.type === 'm.room.message')
        .map((event) => String((event.pdu['content'] as Json)['body']));
    };
    await eventually(async () => (await bodies(a)).length === 2, 'B’s message on A');
    await eventually(async () => (await bodies(b)).length === 2, 'A’s message on B');
    expect((await bodies(a)).sort()).toEqual(['hello from A', 'hello from B']);
    expect((await bodies(b)).sort()).toEqual(['hello from A', 'hello from B']);
  });

  it('joins through a remote alias (query/directory)', async () => {
    const roomId = await createRoom(a, alice, [], {
      preset: 'public_chat',
      room_alias_name: 'plaza',
    });
    const resolved = await call(b, bob, 'GET', '/_matrix/client/v3/directory/room/%23plaza:a.test');
    expect(resolved).toEqual({ room_id: roomId, servers: ['a.test'] });
    const joined = await call(b, bob, 'POST', '/_matrix/client/v3/join/%23plaza:a.test', {});
    expect(joined['room_id']).toBe(roomId);
    expect(await membership(a, roomId, bob.userId)).toBe('join');
  });

  it('refuses to join an invite-only room (403 from make_join)', async () => {
    const roomId = await createRoom(a, alice);
    const response = await b.client.request(
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      { token: bob.accessToken, body: {} },
    );
    expect(response.status).toBe(403);
    expect(await membership(a, roomId, bob.userId)).toBe('none');
    expect(await b.services.rooms.roomVersion(roomId)).toBeUndefined();
  });

  it('answers make_join with M_INCOMPATIBLE_ROOM_VERSION for an unsupported version', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    const error = await b.services.federation.client
      .request(
        'a.test',
        'GET',
        `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(bob.userId)}?ver=1`,
      )
      .catch((e: unknown) => e);
    expect(MatrixError.isInstance(error)).toBe(true);
    expect((error as MatrixError).errcode).toBe('M_INCOMPATIBLE_ROOM_VERSION');
    expect((error as MatrixError).extra['room_version']).toBe(
      await a.services.rooms.roomVersion(roomId),
    );
  });

  it('refuses make_join for a user of another server than the caller', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    const error = await b.services.federation.client
      .request(
        'a.test',
        'GET',
        `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent('@mallory:c.test')}?ver=10&ver=11&ver=12`,
      )
      .catch((e: unknown) => e);
    expect((error as MatrixError).status).toBe(403);
  });

  it('rejects a send_join whose signature does not verify, and one for another event ID', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    const template = await b.services.federation.client.request<Json>(
      'a.test',
      'GET',
      `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(bob.userId)}?ver=10&ver=11&ver=12`,
    );
    const version = template['room_version'] as string;
    const pdu = { ...template['event'], origin: 'b.test', origin_server_ts: Date.now() };
    const signed = signEvent(pdu, version, 'b.test', b.services.ctx.signingKey);
    // Changed after signing: the event ID matches the changed event, the signature does not.
    const tampered = { ...signed, origin_server_ts: (signed['origin_server_ts'] as number) + 1 };
    const tamperedId = computeEventId(tampered, version);
    const bad = await b.services.federation.client
      .request(
        'a.test',
        'PUT',
        `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(tamperedId)}`,
        tampered,
      )
      .catch((e: unknown) => e);
    expect((bad as MatrixError).status).toBe(403);
    const wrongId = await b.services.federation.client
      .request(
        'a.test',
        'PUT',
        `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent('$notthisevent')}`,
        signed,
      )
      .catch((e: unknown) => e);
    expect((wrongId as MatrixError).status).toBe(400);
    expect(await membership(a, roomId, bob.userId)).toBe('none');
    // The genuine event is accepted and answered with the state and auth chain.
    const eventId = computeEventId(signed, version);
    const answer = await b.services.federation.client.request<Json>(
      'a.test',
      'PUT',
      `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
      signed,
    );
    expect(answer['origin']).toBe('a.test');
    expect(answer['members_omitted']).toBe(false);
    const stateTypes = (answer['state'] as Json[]).map((event) => event['type']);
    expect(stateTypes).toContain('m.room.create');
    expect(stateTypes).toContain('m.room.power_levels');
    expect((answer['auth_chain'] as Json[]).length).toBeGreaterThan(0);
    expect(await membership(a, roomId, bob.userId)).toBe('join');
  });
});

describe('invites across servers (remote-invite.ts, receive-invite.ts, invite.ts)', () => {
  it('delivers an invite with invite_state; the invitee joins through the inviter', async () => {
    const carol = await register(b, 'carol');
    const roomId = await createRoom(a, alice, [], { name: 'Secret garden' });
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
      user_id: carol.userId,
    });
    expect(await membership(a, roomId, carol.userId)).toBe('invite');
    // A stored the invite as signed by both servers.
    const inviteEvent = await a.services.rooms.currentStateEvent(
      roomId,
      'm.room.member',
      carol.userId,
    );
    const signatures = inviteEvent?.pdu['signatures'] as Json;
    expect(Object.keys(signatures).sort()).toEqual(['a.test', 'b.test']);

    const body = await sync(b, carol);
    const invited: Json = body['rooms']['invite'][roomId];
    const events = invited['invite_state']['events'] as Json[];
    expect(events.find((e) => e['type'] === 'm.room.name')?.['content']['name']).toBe(
      'Secret garden',
    );
    expect(
      events.find((e) => e['type'] === 'm.room.member' && e['state_key'] === carol.userId)?.[
        'content'
      ]['membership'],
    ).toBe('invite');

    // No via needed: the invite says where the room is.
    await call(b, carol, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, {});
    expect(await membership(a, roomId, carol.userId)).toBe('join');
    expect(await membership(b, roomId, carol.userId)).toBe('join');
    const after = await sync(b, carol);
    expect(after['rooms']['join'][roomId]).toBeDefined();
    expect(after['rooms']['invite']?.[roomId]).toBeUndefined();
  });

  it('rejects a remote invite through make_leave/send_leave', async () => {
    const dave = await register(b, 'dave');
    const roomId = await createRoom(a, alice);
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
      user_id: dave.userId,
    });
    await call(b, dave, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, {});
    expect(await membership(a, roomId, dave.userId)).toBe('leave');
    expect(await membership(b, roomId, dave.userId)).toBe('leave');
    const body = await sync(b, dave);
    expect(body['rooms']['invite']?.[roomId]).toBeUndefined();
  });

  it('rejects a remote invite locally when the inviting server is unreachable', async () => {
    const erin = await register(b, 'erin');
    const roomId = await createRoom(a, alice);
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
      user_id: erin.userId,
    });
    await federation.stop('a.test');
    try {
      await call(
        b,
        erin,
        'POST',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`,
        {},
      );
      expect(await membership(b, roomId, erin.userId)).toBe('leave');
      const body = await sync(b, erin);
      expect(body['rooms']['invite']?.[roomId]).toBeUndefined();
    } finally {
      a = await federation.restart('a.test');
    }
    // A never learnt of it: the invite stands there.
    expect(await membership(a, roomId, erin.userId)).toBe('invite');
  }, 30_000);

  it('answers 404 to an invite for a user this server does not have', async () => {
    const roomId = await createRoom(a, alice);
    const response = await a.client.request('POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
      token: alice.accessToken,
      body: { user_id: '@nobody:b.test' },
    });
    expect(response.status).toBe(404);
    expect(await membership(a, roomId, '@nobody:b.test')).toBe('none');
  });
});
