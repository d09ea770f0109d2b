/** Presence over real HTTP (spec client-server-api "Presence") and its change stream. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('presence', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('sets and reads a status; users who never set one are offline', async () => {
    const alice = await server.client.registerUser('alice');
    const bob = await server.client.registerUser('bob');
    const path = (userId: string) => `${V3}/presence/${enc(userId)}/status`;
    await shareRoom(server, alice, bob);
    const never = await server.client.request('GET', path(bob.userId), {
      token: alice.accessToken,
    });
    expect(never.body).toEqual({ presence: 'offline' });

    const from = await currentStreamPosition(server.services.ctx.db);
    const put = await server.client.request('PUT', path(alice.userId), {
      token: alice.accessToken,
      body: { presence: 'online', status_msg: 'Working' },
    });
    expect(put.status).toBe(200);
    const read = await server.client.request('GET', path(alice.userId), { token: bob.accessToken });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({
      presence: 'online',
      status_msg: 'Working',
      currently_active: true,
    });
    expect(typeof read.body['last_active_ago']).toBe('number');

    await server.client.request('PUT', path(alice.userId), {
      token: alice.accessToken,
      body: { presence: 'unavailable' },
    });
    const later = await server.client.request('GET', path(alice.userId), {
      token: alice.accessToken,
    });
    expect(later.body).toMatchObject({ presence: 'unavailable', currently_active: false });
    expect(later.body['status_msg']).toBeUndefined();

    const to = await currentStreamPosition(server.services.ctx.db);
    const changes = await server.services.presence.presenceSince(from, to);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      type: 'm.presence',
      sender: alice.userId,
      content: { presence: 'unavailable' },
    });
  });

  it('refuses bad states, other users and unknown users', async () => {
    const carol = await server.client.registerUser('carol');
    const dave = await server.client.registerUser('dave');
    const token = carol.accessToken;
    const bad = await server.client.request('PUT', `${V3}/presence/${enc(carol.userId)}/status`, {
      token,
      body: { presence: 'busy' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body['errcode']).toBe('M_BAD_JSON');
    const badMsg = await server.client.request(
      'PUT',
      `${V3}/presence/${enc(carol.userId)}/status`,
      {
        token,
        body: { presence: 'online', status_msg: 5 },
      },
    );
    expect(badMsg.status).toBe(400);
    const other = await server.client.request('PUT', `${V3}/presence/${enc(dave.userId)}/status`, {
      token,
      body: { presence: 'online' },
    });
    expect(other.status).toBe(403);
    expect(other.body['errcode']).toBe('M_FORBIDDEN');
    const unknown = await server.client.request(
      'GET',
      `${V3}/presence/${enc('@ghost:test.local')}/status`,
      { token },
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body['errcode']).toBe('M_NOT_FOUND');
  });

  it("refuses a user's presence to those sharing no room with them (403 M_FORBIDDEN)", async () => {
    const erin = await server.client.registerUser('erin');
    const frank = await server.client.registerUser('frank');
    const path = `${V3}/presence/${enc(erin.userId)}/status`;
    await server.client.request('PUT', path, {
      token: erin.accessToken,
      body: { presence: 'online', status_msg: 'private' },
    });
    const stranger = await server.client.request('GET', path, { token: frank.accessToken });
    expect(stranger.status).toBe(403);
    expect(stranger.body['errcode']).toBe('M_FORBIDDEN');
    expect(stranger.body['status_msg']).toBeUndefined();
    // Herself, always; a room-mate once they share a joined room.
    const own = await server.client.request('GET', path, { token: erin.accessToken });
    expect(own.status).toBe(200);
    await shareRoom(server, erin, frank);
    const mate = await server.client.request('GET', path, { token: frank.accessToken });
    expect(mate.status).toBe(200);
    expect(mate.body).toMatchObject({ presence: 'online', status_msg: 'private' });
  });
});

/** `a` creates a public room and `b` joins it. */
async function shareRoom(
  server: TestServer,
  a: { accessToken: string },
  b: { accessToken: string },
): Promise<string> {
  const created = await server.client.request('POST', `${V3}/createRoom`, {
    token: a.accessToken,
    body: { preset: 'public_chat' },
  });
  const roomId = created.body['room_id'] as string;
  const joined = await server.client.request('POST', `${V3}/join/${enc(roomId)}`, {
    token: b.accessToken,
    body: {},
  });
  expect(joined.status).toBe(200);
  return roomId;
}
