/**
 * Profiles over real HTTP (spec client-server-api "Profiles"), including "Events on Change of
 * Profile Information": a new display name reaches the user's member event in every joined room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('profile', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('sets and reads display name and avatar URL; clearing removes them', async () => {
    const alice = await server.client.registerUser('alice');
    const base = `${V3}/profile/${enc(alice.userId)}`;
    expect((await server.client.request('GET', base)).body).toEqual({});
    const missing = await server.client.request('GET', `${base}/displayname`);
    expect(missing.status).toBe(404);
    expect(missing.body['errcode']).toBe('M_NOT_FOUND');

    const put = await server.client.request('PUT', `${base}/displayname`, {
      token: alice.accessToken,
      body: { displayname: 'Alice ✨' },
    });
    expect(put.status).toBe(200);
    await server.client.request('PUT', `${base}/avatar_url`, {
      token: alice.accessToken,
      body: { avatar_url: 'mxc://test.local/avatar' },
    });
    expect((await server.client.request('GET', `${base}/displayname`)).body).toEqual({
      displayname: 'Alice ✨',
    });
    expect((await server.client.request('GET', `${base}/avatar_url`)).body).toEqual({
      avatar_url: 'mxc://test.local/avatar',
    });
    expect((await server.client.request('GET', base)).body).toEqual({
      displayname: 'Alice ✨',
      avatar_url: 'mxc://test.local/avatar',
    });
    // The legacy r0 path serves the same resource.
    expect(
      (await server.client.request('GET', `/_matrix/client/r0/profile/${enc(alice.userId)}`)).body,
    ).toMatchObject({ displayname: 'Alice ✨' });

    await server.client.request('PUT', `${base}/avatar_url`, {
      token: alice.accessToken,
      body: {},
    });
    expect((await server.client.request('GET', base)).body).toEqual({ displayname: 'Alice ✨' });

    // DELETE (spec v1.16) removes a field; deleting an absent one is fine too.
    for (let i = 0; i < 2; i++) {
      const deleted = await server.client.request('DELETE', `${base}/displayname`, {
        token: alice.accessToken,
      });
      expect(deleted.status).toBe(200);
    }
    expect((await server.client.request('GET', base)).body).toEqual({});
    const foreign = await server.client.request(
      'DELETE',
      `${V3}/profile/${enc('@x:test.local')}/displayname`,
      {
        token: alice.accessToken,
      },
    );
    expect(foreign.status).toBe(403);
  });

  it("refuses other users' profiles, wrong types, unknown users and bad IDs", async () => {
    const bob = await server.client.registerUser('bob');
    const carol = await server.client.registerUser('carol');
    const other = await server.client.request(
      'PUT',
      `${V3}/profile/${enc(carol.userId)}/displayname`,
      {
        token: bob.accessToken,
        body: { displayname: 'hijacked' },
      },
    );
    expect(other.status).toBe(403);
    expect(other.body['errcode']).toBe('M_FORBIDDEN');
    const wrongType = await server.client.request(
      'PUT',
      `${V3}/profile/${enc(bob.userId)}/displayname`,
      {
        token: bob.accessToken,
        body: { displayname: 42 },
      },
    );
    expect(wrongType.status).toBe(400);
    expect(wrongType.body['errcode']).toBe('M_BAD_JSON');
    const noToken = await server.client.request(
      'PUT',
      `${V3}/profile/${enc(bob.userId)}/displayname`,
      {
        body: { displayname: 'x' },
      },
    );
    expect(noToken.status).toBe(401);
    const unknown = await server.client.request('GET', `${V3}/profile/${enc('@ghost:test.local')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body['errcode']).toBe('M_NOT_FOUND');
    const bad = await server.client.request('GET', `${V3}/profile/not-a-user-id`);
    expect(bad.status).toBe(400);
  });

  it('puts the profile in new member events and re-sends them on a change', async () => {
    const dave = await server.client.registerUser('dave');
    const erin = await server.client.registerUser('erin');
    await server.client.request('PUT', `${V3}/profile/${enc(dave.userId)}/displayname`, {
      token: dave.accessToken,
      body: { displayname: 'Dave' },
    });
    const created = await server.client.request('POST', `${V3}/createRoom`, {
      token: dave.accessToken,
      body: { preset: 'public_chat' },
    });
    expect(created.status).toBe(200);
    const roomId = String(created.body['room_id']);
    const memberPath = (userId: string) =>
      `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(userId)}`;
    expect(
      (await server.client.request('GET', memberPath(dave.userId), { token: dave.accessToken }))
        .body,
    ).toEqual({ membership: 'join', displayname: 'Dave' });

    await server.client.request('PUT', `${V3}/profile/${enc(erin.userId)}/avatar_url`, {
      token: erin.accessToken,
      body: { avatar_url: 'mxc://test.local/erin' },
    });
    const joined = await server.client.request('POST', `${V3}/join/${enc(roomId)}`, {
      token: erin.accessToken,
      body: {},
    });
    expect(joined.status).toBe(200);
    expect(
      (await server.client.request('GET', memberPath(erin.userId), { token: dave.accessToken }))
        .body,
    ).toEqual({ membership: 'join', avatar_url: 'mxc://test.local/erin' });

    await server.client.request('PUT', `${V3}/profile/${enc(dave.userId)}/displayname`, {
      token: dave.accessToken,
      body: { displayname: 'David' },
    });
    const after = await server.client.request('GET', `${memberPath(dave.userId)}?format=event`, {
      token: erin.accessToken,
    });
    expect(after.body['content']).toEqual({ membership: 'join', displayname: 'David' });
    expect(after.body['sender']).toBe(dave.userId);
    // Setting the same value again sends no new event.
    const eventId = after.body['event_id'];
    await server.client.request('PUT', `${V3}/profile/${enc(dave.userId)}/displayname`, {
      token: dave.accessToken,
      body: { displayname: 'David' },
    });
    const same = await server.client.request('GET', `${memberPath(dave.userId)}?format=event`, {
      token: erin.accessToken,
    });
    expect(same.body['event_id']).toBe(eventId);
  });
});
