/**
 * Device management, password change, capabilities and the rest of registration over real HTTP
 * (spec client-server-api "Device management", "Account registration", "Capabilities").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';

describe('accounts: devices, password, capabilities, registration options', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  async function login(user: string, password: string, deviceId?: string) {
    const response = await server.client.request('POST', `${V3}/login`, {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password,
        ...(deviceId !== undefined
          ? { device_id: deviceId, initial_device_display_name: `${deviceId} name` }
          : {}),
      },
    });
    expect(response.status).toBe(200);
    return String(response.body['access_token']);
  }

  it('lists, gets and renames devices; unknown devices are 404', async () => {
    const alice = await server.client.registerUser('alice', 'alice-pw');
    const token = await login('alice', 'alice-pw', 'TABLET');
    const list = await server.client.request<{ devices: Record<string, unknown>[] }>(
      'GET',
      `${V3}/devices`,
      { token },
    );
    expect(list.status).toBe(200);
    expect(list.body.devices.map((d) => d['device_id']).sort()).toEqual(
      [alice.deviceId, 'TABLET'].sort(),
    );
    const tablet = list.body.devices.find((d) => d['device_id'] === 'TABLET');
    expect(tablet?.['display_name']).toBe('TABLET name');
    expect(typeof tablet?.['last_seen_ts']).toBe('number');

    const put = await server.client.request('PUT', `${V3}/devices/TABLET`, {
      token,
      body: { display_name: 'Kitchen tablet' },
    });
    expect(put.status).toBe(200);
    const one = await server.client.request('GET', `${V3}/devices/TABLET`, { token });
    expect(one.body).toMatchObject({ device_id: 'TABLET', display_name: 'Kitchen tablet' });

    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { display_name: 'x' }],
    ] as const) {
      const missing = await server.client.request(method, `${V3}/devices/NOPE`, {
        token,
        ...(body !== undefined ? { body } : {}),
      });
      expect(missing.status).toBe(404);
      expect(missing.body['errcode']).toBe('M_NOT_FOUND');
    }
    const wrongType = await server.client.request('PUT', `${V3}/devices/TABLET`, {
      token,
      body: { display_name: 5 },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body['errcode']).toBe('M_BAD_JSON');
  });

  it('deletes a device behind m.login.password UIA, and its token stops working', async () => {
    await server.client.registerUser('bob', 'bob-pw');
    const keep = await login('bob', 'bob-pw', 'KEEP');
    const doomed = await login('bob', 'bob-pw', 'DOOMED');
    const challenge = await server.client.request('DELETE', `${V3}/devices/DOOMED`, {
      token: keep,
      body: {},
    });
    expect(challenge.status).toBe(401);
    expect(challenge.body['flows']).toEqual([{ stages: ['m.login.password'] }]);
    const session = String(challenge.body['session']);

    const wrong = await server.client.request('DELETE', `${V3}/devices/DOOMED`, {
      token: keep,
      body: {
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'bob' },
          password: 'not-it',
          session,
        },
      },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body['errcode']).toBe('M_FORBIDDEN');
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: doomed })).status,
    ).toBe(200);

    const done = await server.client.request('DELETE', `${V3}/devices/DOOMED`, {
      token: keep,
      body: {
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: '@bob:test.local' },
          password: 'bob-pw',
          session,
        },
      },
    });
    expect(done.status).toBe(200);
    const gone = await server.client.request('GET', `${V3}/account/whoami`, { token: doomed });
    expect(gone.status).toBe(401);
    expect(gone.body['errcode']).toBe('M_UNKNOWN_TOKEN');
    expect(
      (await server.client.request('GET', `${V3}/devices/DOOMED`, { token: keep })).status,
    ).toBe(404);
    const unknown = await server.client.request('DELETE', `${V3}/devices/DOOMED`, {
      token: keep,
      body: {},
    });
    expect(unknown.status).toBe(404);
  });

  it('deletes several devices with POST /delete_devices and tells device-change listeners', async () => {
    const changes: string[] = [];
    server.services.accounts.onDeviceChange(async (_tx, change) => {
      if (change.userId === '@carol:test.local')
        changes.push(`${change.change}:${change.deviceId}`);
    });
    const carol = await server.client.registerUser('carol', 'carol-pw');
    const main = await login('carol', 'carol-pw', 'MAIN');
    const one = await login('carol', 'carol-pw', 'ONE');
    await login('carol', 'carol-pw', 'TWO');
    const bad = await server.client.request('POST', `${V3}/delete_devices`, {
      token: main,
      body: { devices: 'ONE' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body['errcode']).toBe('M_BAD_JSON');
    const challenge = await server.client.request('POST', `${V3}/delete_devices`, {
      token: main,
      body: { devices: ['ONE', 'TWO'] },
    });
    expect(challenge.status).toBe(401);
    const done = await server.client.request('POST', `${V3}/delete_devices`, {
      token: main,
      body: {
        devices: ['ONE', 'TWO'],
        auth: { type: 'm.login.password', user: 'carol', password: 'carol-pw' },
      },
    });
    expect(done.status).toBe(200);
    const left = await server.client.request<{ devices: { device_id: string }[] }>(
      'GET',
      `${V3}/devices`,
      { token: main },
    );
    expect(left.body.devices.map((d) => d.device_id)).not.toContain('ONE');
    expect(left.body.devices.map((d) => d.device_id)).not.toContain('TWO');
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: one })).status,
    ).toBe(401);
    expect(changes).toEqual([
      `added:${carol.deviceId}`,
      'added:MAIN',
      'added:ONE',
      'added:TWO',
      'removed:ONE',
      'removed:TWO',
    ]);
  });

  it('changes the password behind UIA and logs out the other devices', async () => {
    await server.client.registerUser('dave', 'old-pw');
    const here = await login('dave', 'old-pw', 'HERE');
    const there = await login('dave', 'old-pw', 'THERE');
    const challenge = await server.client.request('POST', `${V3}/account/password`, {
      token: here,
      body: { new_password: 'new-pw' },
    });
    expect(challenge.status).toBe(401);
    const changed = await server.client.request('POST', `${V3}/account/password`, {
      token: here,
      body: {
        new_password: 'new-pw',
        auth: { type: 'm.login.password', user: 'dave', password: 'old-pw' },
      },
    });
    expect(changed.status).toBe(200);
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: here })).status,
    ).toBe(200);
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: there })).status,
    ).toBe(401);
    const old = await server.client.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', user: 'dave', password: 'old-pw' },
    });
    expect(old.status).toBe(403);
    await login('dave', 'new-pw');
  });

  it('registers with a device ID and name; logging in again with it replaces its token', async () => {
    const first = await server.client.request('POST', `${V3}/register`, {
      body: {
        username: 'gina',
        password: 'gina-pw',
        device_id: 'GINAPHONE',
        initial_device_display_name: "Gina's phone",
        auth: { type: 'm.login.dummy' },
      },
    });
    expect(first.status).toBe(200);
    expect(first.body['device_id']).toBe('GINAPHONE');
    const oldToken = String(first.body['access_token']);
    const again = await server.client.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', user: 'gina', password: 'gina-pw', device_id: 'GINAPHONE' },
    });
    expect(again.body['device_id']).toBe('GINAPHONE');
    const newToken = String(again.body['access_token']);
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: oldToken })).status,
    ).toBe(401);
    const devices = await server.client.request<{ devices: Record<string, unknown>[] }>(
      'GET',
      `${V3}/devices`,
      { token: newToken },
    );
    expect(devices.body.devices).toHaveLength(1);
    expect(devices.body.devices[0]).toMatchObject({
      device_id: 'GINAPHONE',
      display_name: "Gina's phone",
    });
  });

  it('deactivates an account behind UIA: leaves its rooms, ends its sessions, keeps its ID taken', async () => {
    const hana = await server.client.registerUser('hana', 'hana-pw');
    const ivan = await server.client.registerUser('ivan', 'ivan-pw');
    await server.client.request(
      'PUT',
      `${V3}/profile/${encodeURIComponent(hana.userId)}/displayname`,
      {
        token: hana.accessToken,
        body: { displayname: 'Hana' },
      },
    );
    const room = await server.client.request('POST', `${V3}/createRoom`, {
      token: ivan.accessToken,
      body: { preset: 'public_chat' },
    });
    const roomId = String(room.body['room_id']);
    await server.client.request('POST', `${V3}/join/${encodeURIComponent(roomId)}`, {
      token: hana.accessToken,
      body: {},
    });
    const challenge = await server.client.request('POST', `${V3}/account/deactivate`, {
      token: hana.accessToken,
      body: {},
    });
    expect(challenge.status).toBe(401);
    const done = await server.client.request('POST', `${V3}/account/deactivate`, {
      token: hana.accessToken,
      body: { auth: { type: 'm.login.password', user: 'hana', password: 'hana-pw' } },
    });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({ id_server_unbind_result: 'no-support' });
    expect(
      (await server.client.request('GET', `${V3}/account/whoami`, { token: hana.accessToken }))
        .status,
    ).toBe(401);
    const member = await server.client.request(
      'GET',
      `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(hana.userId)}`,
      { token: ivan.accessToken },
    );
    expect(member.body['membership']).toBe('leave');
    expect(
      (await server.client.request('GET', `${V3}/profile/${encodeURIComponent(hana.userId)}`)).body,
    ).toEqual({});
    const login = await server.client.request('POST', `${V3}/login`, {
      body: { type: 'm.login.password', user: 'hana', password: 'hana-pw' },
    });
    expect(login.status).toBe(403);
    const again = await server.client.request('POST', `${V3}/register`, {
      body: { username: 'hana', password: 'x', auth: { type: 'm.login.dummy' } },
    });
    expect(again.body['errcode']).toBe('M_USER_IN_USE');
  });

  it('advertises capabilities: password change and room versions 10, 11, 12', async () => {
    const erin = await server.client.registerUser('erin');
    const caps = await server.client.request<{ capabilities: Record<string, unknown> }>(
      'GET',
      `${V3}/capabilities`,
      { token: erin.accessToken },
    );
    expect(caps.status).toBe(200);
    expect(caps.body.capabilities['m.change_password']).toEqual({ enabled: true });
    expect(caps.body.capabilities['m.room_versions']).toEqual({
      default: '11',
      available: { '10': 'stable', '11': 'stable', '12': 'stable' },
    });
    expect((await server.client.request('GET', `${V3}/capabilities`)).status).toBe(401);
  });

  it('supports inhibit_login, register/available, and refuses guests', async () => {
    const available = await server.client.request('GET', `${V3}/register/available?username=frank`);
    expect(available.body).toEqual({ available: true });
    const invalid = await server.client.request('GET', `${V3}/register/available?username=NO%20PE`);
    expect(invalid.body['errcode']).toBe('M_INVALID_USERNAME');
    const inhibited = await server.client.request('POST', `${V3}/register`, {
      body: {
        username: 'frank',
        password: 'frank-pw',
        inhibit_login: true,
        auth: { type: 'm.login.dummy' },
      },
    });
    expect(inhibited.status).toBe(200);
    expect(inhibited.body).toEqual({ user_id: '@frank:test.local' });
    const guest = await server.client.request('POST', `${V3}/register?kind=guest`, { body: {} });
    expect(guest.status).toBe(403);
    expect(guest.body['errcode']).toBe('M_GUEST_ACCESS_FORBIDDEN');
  });

  it('refuses registration with 403 M_FORBIDDEN when it is disabled', async () => {
    const closed = await startTestServer({ file: { registration: { enabled: false } } });
    try {
      const response = await closed.client.request('POST', `${V3}/register`, {
        body: { username: 'nobody', password: 'x', auth: { type: 'm.login.dummy' } },
      });
      expect(response.status).toBe(403);
      expect(response.body['errcode']).toBe('M_FORBIDDEN');
    } finally {
      await closed.stop();
    }
  });
});
