/** Registration, login, whoami and logout over real HTTP, against a real SQLite file. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

describe('accounts: register, login, whoami, logout', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it('registers through the m.login.dummy UIA stage and the token works', async () => {
    const challenge = await server.client.request('POST', '/_matrix/client/v3/register', {
      body: { username: 'alice', password: 'pw-alice-123' },
    });
    expect(challenge.status).toBe(401);
    expect(challenge.body['flows']).toEqual([{ stages: ['m.login.dummy'] }]);
    expect(typeof challenge.body['session']).toBe('string');

    const alice = await server.client.registerUser('alice2', 'pw-alice-123');
    expect(alice.userId).toBe('@alice2:test.local');
    const whoami = await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: alice.accessToken,
    });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toEqual({
      user_id: '@alice2:test.local',
      device_id: alice.deviceId,
      is_guest: false,
    });
  });

  it('refuses a taken or invalid username with the spec errcodes', async () => {
    await server.client.registerUser('bob');
    const taken = await server.client.request('POST', '/_matrix/client/v3/register', {
      body: { username: 'bob', password: 'x', auth: { type: 'm.login.dummy' } },
    });
    expect(taken.status).toBe(400);
    expect(taken.body['errcode']).toBe('M_USER_IN_USE');
    const available = await server.client.request(
      'GET',
      '/_matrix/client/v3/register/available?username=bob',
    );
    expect(available.body['errcode']).toBe('M_USER_IN_USE');
    const invalid = await server.client.request('POST', '/_matrix/client/v3/register', {
      body: { username: 'Not Valid', password: 'x', auth: { type: 'm.login.dummy' } },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body['errcode']).toBe('M_INVALID_USERNAME');
  });

  it('logs in with a password (identifier and legacy user field), refuses a wrong one', async () => {
    await server.client.registerUser('carol', 'carol-secret');
    const flows = await server.client.request('GET', '/_matrix/client/v3/login');
    expect(flows.body['flows']).toEqual([{ type: 'm.login.password' }]);
    const login = await server.client.request('POST', '/_matrix/client/v3/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'carol' },
        password: 'carol-secret',
        device_id: 'CAROLPHONE',
      },
    });
    expect(login.status).toBe(200);
    expect(login.body['user_id']).toBe('@carol:test.local');
    expect(login.body['device_id']).toBe('CAROLPHONE');
    const legacy = await server.client.request('POST', '/_matrix/client/r0/login', {
      body: { type: 'm.login.password', user: '@carol:test.local', password: 'carol-secret' },
    });
    expect(legacy.status).toBe(200);
    const wrong = await server.client.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', user: 'carol', password: 'nope' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body['errcode']).toBe('M_FORBIDDEN');
  });

  it('logout invalidates the token; logout/all invalidates every token', async () => {
    const dave = await server.client.registerUser('dave', 'dave-pw');
    const second = await server.client.request('POST', '/_matrix/client/v3/login', {
      body: { type: 'm.login.password', user: 'dave', password: 'dave-pw' },
    });
    const secondToken = String(second.body['access_token']);
    expect(
      (
        await server.client.request('POST', '/_matrix/client/v3/logout', {
          token: dave.accessToken,
        })
      ).status,
    ).toBe(200);
    const gone = await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: dave.accessToken,
    });
    expect(gone.status).toBe(401);
    expect(gone.body['errcode']).toBe('M_UNKNOWN_TOKEN');
    expect(
      (
        await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
          token: secondToken,
        })
      ).status,
    ).toBe(200);
    await server.client.request('POST', '/_matrix/client/v3/logout/all', { token: secondToken });
    expect(
      (
        await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
          token: secondToken,
        })
      ).status,
    ).toBe(401);
  });

  it('accepts the access token as a query parameter (matrix-nio) and keeps users across a restart', async () => {
    const erin = await server.client.registerUser('erin', 'erin-pw');
    const viaQuery = await server.client.request(
      'GET',
      `/_matrix/client/r0/account/whoami?access_token=${encodeURIComponent(erin.accessToken)}`,
    );
    expect(viaQuery.body['user_id']).toBe('@erin:test.local');
    await server.stop();
    server = await startTestServer({ dataDir: server.dataDir });
    const after = await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: erin.accessToken,
    });
    expect(after.body['user_id']).toBe('@erin:test.local');
  });
});
