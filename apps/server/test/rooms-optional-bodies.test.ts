/** Endpoints whose body the spec makes optional accept a request without one (curl-style clients). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

describe('optional request bodies', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('join, receipt, leave and forget work with no body at all', async () => {
    const alice = await server.client.registerUser('alice');
    const bob = await server.client.registerUser('bob');
    const created = await server.client.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: { preset: 'public_chat' },
    });
    const roomId = String(created.body['room_id']);
    const path = (suffix: string) =>
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}${suffix}`;

    const join = await server.client.request('POST', path('/join'), { token: bob.accessToken });
    expect(join.status).toBe(200);
    expect(join.body['room_id']).toBe(roomId);

    const sent = await server.client.request('PUT', path('/send/m.room.message/t1'), {
      token: alice.accessToken,
      body: { msgtype: 'm.text', body: 'hi' },
    });
    const eventId = encodeURIComponent(String(sent.body['event_id']));
    const receipt = await server.client.request('POST', path(`/receipt/m.read/${eventId}`), {
      token: bob.accessToken,
    });
    expect(receipt.status).toBe(200);

    expect(
      (await server.client.request('POST', path('/leave'), { token: bob.accessToken })).status,
    ).toBe(200);
    expect(
      (await server.client.request('POST', path('/forget'), { token: bob.accessToken })).status,
    ).toBe(200);
    const joined = await server.client.request('GET', '/_matrix/client/v3/joined_rooms', {
      token: bob.accessToken,
    });
    expect(joined.body['joined_rooms']).toEqual([]);

    const badBody = await server.client.request('POST', path('/join'), {
      token: bob.accessToken,
      rawBody: 'not json',
    });
    expect(badBody.status).toBe(400);
    expect(badBody.body['errcode']).toBe('M_NOT_JSON');
  });
});
