/**
 * Responses of the account, device, capability, profile, account-data, filter, push-rule,
 * presence and media endpoints validate against the spec's OpenAPI schemas
 * (`../shared/matrix-spec/data/api/client-server/*.yaml`, through test/openapi.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('spec schemas of the account and user-data endpoints', () => {
  let server: TestServer;
  let token: string;
  let userId: string;
  beforeAll(async () => {
    server = await startTestServer();
    const alice = await server.client.registerUser('alice', 'alice-pw');
    token = alice.accessToken;
    userId = alice.userId;
  });
  afterAll(() => server.stop());

  const check = (
    method: string,
    path: string,
    options: { body?: unknown; token?: string; status?: number } = {},
  ) => spec.expectRequest(server.client, method, path, options);

  it('registration, login, logout, whoami, password', async () => {
    await check('POST', `${V3}/register`, {
      body: { username: 'bob', password: 'pw' },
      status: 401,
    });
    await check('POST', `${V3}/register`, {
      body: { username: 'bob', password: 'pw', auth: { type: 'm.login.dummy' } },
    });
    await check('GET', `${V3}/register/available?username=dora`);
    await check('GET', `${V3}/login`);
    const login = await check('POST', `${V3}/login`, {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'bob' },
        password: 'pw',
      },
    });
    await check('POST', `${V3}/login`, {
      body: { type: 'm.login.password', user: 'bob', password: 'wrong' },
      status: 403,
    });
    const bobToken = String(login.body['access_token']);
    await check('GET', `${V3}/account/whoami`, {
      token: bobToken,
    });
    await check('POST', `${V3}/account/password`, {
      token: bobToken,
      body: { new_password: 'pw2' },
      status: 401,
    });
    await check('POST', `${V3}/account/password`, {
      token: bobToken,
      body: {
        new_password: 'pw2',
        auth: { type: 'm.login.password', user: 'bob', password: 'pw' },
      },
    });
    await check('GET', `${V3}/account/3pid`, {
      token: bobToken,
    });
    await check('POST', `${V3}/logout`, { token: bobToken });
    const carol = await server.client.registerUser('carol', 'carol-pw');
    await check('POST', `${V3}/account/deactivate`, {
      token: carol.accessToken,
      body: { auth: { type: 'm.login.password', user: 'carol', password: 'carol-pw' } },
    });
  });

  it('devices and capabilities', async () => {
    const devices = await check('GET', `${V3}/devices`, {
      token,
    });
    const deviceId = String((devices.body['devices'] as { device_id: string }[])[0]?.device_id);
    await check('GET', `${V3}/devices/${deviceId}`, { token });
    await check('PUT', `${V3}/devices/${deviceId}`, {
      token,
      body: { display_name: 'Laptop' },
    });
    await check('POST', `${V3}/delete_devices`, {
      token,
      body: { devices: ['NOPE'] },
      status: 401,
    });
    await check('GET', `${V3}/capabilities`, { token });
  });

  it('profile, account data, filters, presence', async () => {
    await check('PUT', `${V3}/profile/${enc(userId)}/displayname`, {
      token,
      body: { displayname: 'Alice' },
    });
    await check('GET', `${V3}/profile/${enc(userId)}/displayname`);
    await check('GET', `${V3}/profile/${enc(userId)}`);
    await check('DELETE', `${V3}/profile/${enc(userId)}/avatar_url`, { token });
    await check('GET', `${V3}/profile/${enc('@nobody:test.local')}`, {
      status: 404,
    });
    const data = `${V3}/user/${enc(userId)}/account_data/org.example`;
    await check('PUT', data, {
      token,
      body: { a: 1 },
    });
    await check('GET', data, { token });
    const tags = `${V3}/user/${enc(userId)}/rooms/${enc('!room:test.local')}/tags`;
    await check('PUT', `${tags}/m.favourite`, { token, body: { order: 0.25 } });
    await check('PUT', `${tags}/u.work`, { token, body: {} });
    await check('GET', tags, { token });
    await check('DELETE', `${tags}/u.work`, { token });
    await check('PUT', `${V3}/user/${enc(userId)}/account_data/m.push_rules`, {
      token,
      body: {},
      status: 405,
    });
    const filter = await check('POST', `${V3}/user/${enc(userId)}/filter`, {
      token,
      body: { room: { timeline: { limit: 5 } }, event_fields: ['type', 'content.body'] },
    });
    await check('GET', `${V3}/user/${enc(userId)}/filter/${filter.body['filter_id']}`, { token });
    const presence = `${V3}/presence/${enc(userId)}/status`;
    await check('PUT', presence, {
      token,
      body: { presence: 'online', status_msg: 'here' },
    });
    await check('GET', presence, { token });
  });

  it('push rules', async () => {
    await check('GET', `${V3}/pushrules/`, { token });
    await check('GET', `${V3}/pushrules/global/`, {
      token,
    });
    await check('PUT', `${V3}/pushrules/global/content/cake`, {
      token,
      body: { pattern: 'cake', actions: ['notify'] },
    });
    await check('GET', `${V3}/pushrules/global/content/cake`, { token });
    await check('GET', `${V3}/pushrules/global/override/.m.rule.master/enabled`, { token });
    await check('GET', `${V3}/pushrules/global/underride/.m.rule.call/actions`, { token });
    await check('DELETE', `${V3}/pushrules/global/content/cake`, { token });
    await check('GET', `${V3}/pushrules/global/content/cake`, {
      token,
      status: 404,
    });
  });

  it('media upload and config', async () => {
    const upload = await server.client.request('POST', '/_matrix/media/v3/upload?filename=a.txt', {
      token,
      rawBody: 'hello',
      headers: { 'Content-Type': 'text/plain' },
    });
    await spec.expectValid('POST', '/_matrix/media/v3/upload', 200, upload.body);
    await check('GET', '/_matrix/client/v1/media/config', { token });
    await check('GET', '/_matrix/media/v3/config', {
      token,
    });
  });
});
