/**
 * `GET /admin/whois/{userId}` (api/client/admin-whois.ts) over real HTTP: the user's devices,
 * one session each with the device's `last_seen` (the logins here are requests, so every device
 * was seen), for the user themself only (this server has no server admins: 403 for anyone else),
 * and the answers validate against admin.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { loginDevice, type TestUser } from './sync-helpers.ts';

const spec = new ClientServerSpec();

describe('GET /admin/whois/{userId}', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
  });
  afterAll(async () => {
    await server.stop();
  });

  async function whois(caller: TestUser, userId: string, prefix = 'v3') {
    const path = `/_matrix/client/${prefix}/admin/whois/${encodeURIComponent(userId)}`;
    const response = await server.client.request('GET', path, { token: caller.accessToken });
    await spec.expectValid('GET', path, response.status, response.body);
    return response;
  }

  it('answers the user’s own devices with when each was last seen', async () => {
    const before = Date.now();
    const second = await loginDevice(server, alice.userId, 'PHONE');
    // A request with each device's token (the first request of a token marks its device seen).
    await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: second.accessToken,
    });
    const response = await whois(alice, alice.userId);
    expect(response.status).toBe(200);
    expect(response.body['user_id']).toBe(alice.userId);
    const devices = response.body['devices'] as Record<string, { sessions: unknown[] }>;
    expect(Object.keys(devices).sort()).toEqual([alice.deviceId, 'PHONE'].sort());
    const phone = devices['PHONE'] as {
      sessions: { connections: { last_seen: number; ip?: string }[] }[];
    };
    expect(phone.sessions).toHaveLength(1);
    expect(phone.sessions[0]?.connections).toHaveLength(1);
    const lastSeen = phone.sessions[0]?.connections[0]?.last_seen ?? 0;
    expect(lastSeen).toBeGreaterThanOrEqual(before - 1000);
    expect(lastSeen).toBeLessThanOrEqual(Date.now());
    // Not recorded, so not answered.
    expect(phone.sessions[0]?.connections[0]).toEqual({ last_seen: lastSeen });
    // The legacy r0 prefix serves the same.
    expect((await whois(alice, alice.userId, 'r0')).body['user_id']).toBe(alice.userId);
  });

  it('refuses another user, a bad user ID and no token', async () => {
    const other = await whois(alice, bob.userId);
    expect(other.status).toBe(403);
    expect(other.body['errcode']).toBe('M_FORBIDDEN');
    expect((await whois(alice, '@nobody:test.local')).status).toBe(403);
    const bad = await server.client.request('GET', '/_matrix/client/v3/admin/whois/nobody', {
      token: alice.accessToken,
    });
    expect(bad.status).toBe(400);
    const anonymous = await server.client.request(
      'GET',
      `/_matrix/client/v3/admin/whois/${encodeURIComponent(alice.userId)}`,
    );
    expect(anonymous.status).toBe(401);
  });
});
