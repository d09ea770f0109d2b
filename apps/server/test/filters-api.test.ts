/** Stored filters over real HTTP (spec client-server-api "Filtering") and their use by `/sync`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('filters', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('uploads a filter, reads it back, and reuses the ID of an identical one', async () => {
    const alice = await server.client.registerUser('alice');
    const token = alice.accessToken;
    const filter = {
      room: {
        timeline: { limit: 2, types: ['m.room.message'] },
        state: { lazy_load_members: true },
      },
      presence: { not_types: ['*'] },
    };
    const created = await server.client.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, {
      token,
      body: filter,
    });
    expect(created.status).toBe(200);
    const filterId = String(created.body['filter_id']);
    expect(filterId.startsWith('{')).toBe(false);
    const read = await server.client.request(
      'GET',
      `${V3}/user/${enc(alice.userId)}/filter/${filterId}`,
      { token },
    );
    expect(read.body).toEqual(filter);
    const again = await server.client.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, {
      token,
      body: { presence: { not_types: ['*'] }, room: filter.room },
    });
    expect(again.body['filter_id']).toBe(filterId);
    const other = await server.client.request('POST', `${V3}/user/${enc(alice.userId)}/filter`, {
      token,
      body: {},
    });
    expect(other.body['filter_id']).not.toBe(filterId);
  });

  it('refuses malformed filters, other users and unknown IDs', async () => {
    const bob = await server.client.registerUser('bob');
    const carol = await server.client.registerUser('carol');
    const token = bob.accessToken;
    for (const body of [
      { room: { timeline: { limit: 'ten' } } },
      { room: { rooms: 'not-a-list' } },
      { account_data: { types: [1] } },
      { room: { include_leave: 'yes' } },
    ]) {
      const bad = await server.client.request('POST', `${V3}/user/${enc(bob.userId)}/filter`, {
        token,
        body,
      });
      expect(bad.status).toBe(400);
      expect(bad.body['errcode']).toBe('M_BAD_JSON');
    }
    const foreign = await server.client.request('POST', `${V3}/user/${enc(carol.userId)}/filter`, {
      token,
      body: {},
    });
    expect(foreign.status).toBe(403);
    expect(foreign.body['errcode']).toBe('M_FORBIDDEN');
    const created = await server.client.request('POST', `${V3}/user/${enc(carol.userId)}/filter`, {
      token: carol.accessToken,
      body: { room: { timeline: { limit: 1 } } },
    });
    const readForeign = await server.client.request(
      'GET',
      `${V3}/user/${enc(carol.userId)}/filter/${created.body['filter_id']}`,
      { token },
    );
    expect(readForeign.status).toBe(403);
    const unknown = await server.client.request('GET', `${V3}/user/${enc(bob.userId)}/filter/999`, {
      token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body['errcode']).toBe('M_NOT_FOUND');
  });

  it('applies a stored filter to /sync by ID', async () => {
    const dave = await server.client.registerUser('dave');
    const token = dave.accessToken;
    const room = await server.client.request('POST', `${V3}/createRoom`, { token, body: {} });
    const roomId = String(room.body['room_id']);
    for (const n of [1, 2, 3]) {
      await server.client.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${n}`, {
        token,
        body: { msgtype: 'm.text', body: `message ${n}` },
      });
    }
    const created = await server.client.request('POST', `${V3}/user/${enc(dave.userId)}/filter`, {
      token,
      body: { room: { timeline: { limit: 2, types: ['m.room.message'] } } },
    });
    const sync = await server.client.request<{
      rooms: {
        join: Record<
          string,
          { timeline: { events: { content: { body?: string } }[]; limited: boolean } }
        >;
      };
    }>('GET', `${V3}/sync?filter=${created.body['filter_id']}`, { token });
    expect(sync.status).toBe(200);
    const timeline = sync.body.rooms.join[roomId]?.timeline;
    expect(timeline?.events.map((e) => e.content.body)).toEqual(['message 2', 'message 3']);
    expect(timeline?.limited).toBe(true);
    const unknown = await server.client.request('GET', `${V3}/sync?filter=12345`, { token });
    expect(unknown.status).toBe(400);
  });

  it('keeps each user’s stored filter apart when two users have the same filter ID', async () => {
    // Parsed filters are kept between syncs (api/client/sync.ts): by user and ID, never by ID.
    const users = [
      await server.client.registerUser('filtercarol'),
      await server.client.registerUser('filterdave'),
    ];
    const [carol, dave] = users as [(typeof users)[0], (typeof users)[0]];
    const created = await server.client.request('POST', `${V3}/createRoom`, {
      token: carol.accessToken,
      body: { preset: 'public_chat' },
    });
    const roomId = String(created.body['room_id']);
    await server.client.request('POST', `${V3}/join/${enc(roomId)}`, {
      token: dave.accessToken,
      body: {},
    });
    for (let i = 0; i < 4; i++) {
      await server.client.request('PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/f${i}`, {
        token: carol.accessToken,
        body: { msgtype: 'm.text', body: `m${i}` },
      });
    }
    const ids: string[] = [];
    for (const [user, limit] of [
      [carol, 1],
      [dave, 3],
    ] as const) {
      const made = await server.client.request('POST', `${V3}/user/${enc(user.userId)}/filter`, {
        token: user.accessToken,
        body: { room: { timeline: { limit } } },
      });
      ids.push(String(made.body['filter_id']));
    }
    const timelineLength = async (token: string, filterId: string) => {
      const sync = await server.client.request('GET', `${V3}/sync?filter=${enc(filterId)}`, {
        token,
      });
      const rooms = (
        sync.body['rooms'] as { join: Record<string, { timeline: { events: unknown[] } }> }
      ).join;
      return rooms[roomId]?.timeline.events.length;
    };
    for (let round = 0; round < 2; round++) {
      expect(await timelineLength(carol.accessToken, ids[0] as string)).toBe(1);
      expect(await timelineLength(dave.accessToken, ids[1] as string)).toBe(3);
    }
  });
});
