/**
 * Third-party lookups (client-server-api "Third-party networks") and TURN credentials ("Voice
 * over IP") over real HTTP. With no application services the protocol list is `{}`, a named
 * protocol is 404 `M_NOT_FOUND` and the reverse lookups are `[]`. `GET /voip/turnServer` is 404
 * without `turn:`, hands out TURN REST API credentials (coturn's `use-auth-secret`: username
 * `<expiry>:<user ID>`, password base64 HMAC-SHA1) with `turn.shared_secret`, and the fixed ones
 * with `turn.username`/`turn.password`; bad `turn:` settings are refused at start without
 * echoing the secret.
 */
import { createHmac } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const URIS = [
  'turn:turn.test.local:3478?transport=udp',
  'turns:turn.test.local:5349?transport=tcp',
];

describe('third-party lookups', () => {
  let server: TestServer;
  let alice: RegisteredUser;
  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
  });
  afterAll(() => server.stop());

  const get = (path: string) =>
    server.client.request('GET', `${V3}${path}`, { token: alice.accessToken });

  it('lists no protocols and knows none', async () => {
    expect(await get('/thirdparty/protocols')).toMatchObject({ status: 200, body: {} });
    for (const path of [
      '/thirdparty/protocol/irc',
      '/thirdparty/location/irc?network=freenode',
      '/thirdparty/user/gitter',
    ]) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(response.body['errcode']).toBe('M_NOT_FOUND');
    }
  });

  it('finds no third-party locations or users for an alias or user ID', async () => {
    expect(await get(`/thirdparty/location?alias=${enc('#room:test.local')}`)).toMatchObject({
      status: 200,
      body: [],
    });
    expect(await get(`/thirdparty/user?userid=${enc(alice.userId)}`)).toMatchObject({
      status: 200,
      body: [],
    });
    for (const path of [
      '/thirdparty/location',
      '/thirdparty/user',
      '/thirdparty/location?alias=nope',
      '/thirdparty/user?userid=nope',
    ]) {
      const response = await get(path);
      expect(response.status, path).toBe(400);
    }
    expect((await server.client.request('GET', `${V3}/thirdparty/protocols`)).status).toBe(401);
  });
});

describe('TURN server credentials', () => {
  let plain: TestServer;
  let secret: TestServer;
  let fixed: TestServer;
  beforeAll(async () => {
    [plain, secret, fixed] = await Promise.all([
      startTestServer(),
      startTestServer({
        file: { turn: { uris: URIS, shared_secret: 's3cret', user_lifetime_ms: 3_600_000 } },
      }),
      startTestServer({ file: { turn: { uris: URIS, username: 'u', password: 'p' } } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([plain.stop(), secret.stop(), fixed.stop()]);
  });

  async function turn(server: TestServer) {
    const { accessToken } = await server.client.registerUser('caller');
    return server.client.request('GET', `${V3}/voip/turnServer`, { token: accessToken });
  }

  it('is 404 M_NOT_FOUND with no TURN server configured', async () => {
    const response = await turn(plain);
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ errcode: 'M_NOT_FOUND', error: 'No TURN server configured' });
  });

  it('hands out time-limited credentials from a shared secret', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await turn(secret);
    const after = Math.ceil(Date.now() / 1000);
    expect(response.status).toBe(200);
    const { username, password, uris, ttl } = response.body as Record<string, unknown>;
    expect(uris).toEqual(URIS);
    expect(ttl).toBe(3600);
    const [expiry, ...rest] = String(username).split(':');
    expect(rest.join(':')).toBe('@caller:test.local');
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
    expect(Number(expiry)).toBeLessThanOrEqual(after + 3600);
    expect(password).toBe(createHmac('sha1', 's3cret').update(String(username)).digest('base64'));
  });

  it('hands out fixed credentials', async () => {
    const response = await turn(fixed);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ username: 'u', password: 'p', uris: URIS, ttl: 86400 });
  });

  it('refuses bad turn settings without naming the secret', () => {
    const bad = [
      { uris: [], shared_secret: 'topsecret' },
      { uris: ['stun:x'], shared_secret: 'topsecret' },
      { uris: URIS },
      { uris: URIS, username: 'u' },
      { uris: URIS, shared_secret: 'topsecret', password: 'p' },
      { uris: URIS, shared_secret: 'topsecret', user_lifetime_ms: 0 },
      { uris: URIS, shared_secret: 5 },
      'turn.example.com',
    ];
    for (const turnSection of bad) {
      let error: unknown;
      try {
        buildConfig({ turn: turnSection }, { dataDir: '/tmp' });
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(turnSection)).toBeInstanceOf(ConfigError);
      expect(String((error as Error).message)).not.toContain('topsecret');
    }
    expect(buildConfig({}, { dataDir: '/tmp' }).turn).toBeUndefined();
  });
});
