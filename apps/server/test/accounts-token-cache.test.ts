/**
 * The in-memory access-token cache: every way a token dies refuses it on the very next request,
 * even though the token was just used (so it sat in the cache), over real HTTP and SQLite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AccessTokenCache } from '../src/services/accounts/token-cache.ts';
import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';

describe('access-token cache', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  const whoami = async (token: string) =>
    (await server.client.request('GET', `${V3}/account/whoami`, { token })).status;

  const login = async (user: string, password: string, deviceId?: string) => {
    const response = await server.client.request('POST', `${V3}/login`, {
      body: {
        type: 'm.login.password',
        user,
        password,
        ...(deviceId !== undefined ? { device_id: deviceId } : {}),
      },
    });
    expect(response.status).toBe(200);
    return String(response.body['access_token']);
  };

  it('serves a cached token without the database and refuses it once its row is gone', async () => {
    const accounts = server.services.accounts;
    const user = await server.client.registerUser('cached', 'cached-pw');
    expect(await accounts.authenticate(user.accessToken)).toEqual({
      userId: user.userId,
      deviceId: user.deviceId,
    });
    // Deleted behind the service's back (no invalidation): the cache still answers, which is
    // the point of it, and why every deleting path in AccountService must invalidate.
    await server.services.ctx.db.execute('DELETE FROM access_tokens WHERE user_id = $1', [
      user.userId,
    ]);
    expect(await accounts.authenticate(user.accessToken)).toEqual({
      userId: user.userId,
      deviceId: user.deviceId,
    });
    await accounts.logout(user.userId, user.deviceId);
    expect(await accounts.authenticate(user.accessToken)).toBeUndefined();
  });

  it('logout and logout/all refuse tokens that were just used', async () => {
    const user = await server.client.registerUser('leaver', 'leaver-pw');
    const second = await login('leaver', 'leaver-pw');
    const third = await login('leaver', 'leaver-pw');
    for (const token of [user.accessToken, second, third]) expect(await whoami(token)).toBe(200);
    await server.client.request('POST', `${V3}/logout`, { token: user.accessToken });
    expect(await whoami(user.accessToken)).toBe(401);
    expect(await whoami(second)).toBe(200);
    await server.client.request('POST', `${V3}/logout/all`, { token: second });
    expect(await whoami(second)).toBe(401);
    expect(await whoami(third)).toBe(401);
  });

  it('deleting a device, re-login on its ID and a password change refuse its cached token', async () => {
    await server.client.registerUser('multi', 'multi-pw');
    const keep = await login('multi', 'multi-pw', 'KEEP');
    const doomed = await login('multi', 'multi-pw', 'DOOMED');
    const replaced = await login('multi', 'multi-pw', 'REPLACED');
    const other = await login('multi', 'multi-pw', 'OTHER');
    for (const token of [keep, doomed, replaced, other]) expect(await whoami(token)).toBe(200);

    const deleted = await server.client.request('POST', `${V3}/delete_devices`, {
      token: keep,
      body: {
        devices: ['DOOMED'],
        auth: { type: 'm.login.password', user: 'multi', password: 'multi-pw' },
      },
    });
    expect(deleted.status).toBe(200);
    expect(await whoami(doomed)).toBe(401);

    // Spec "Login": logging in with an existing device ID invalidates its old tokens.
    const fresh = await login('multi', 'multi-pw', 'REPLACED');
    expect(await whoami(replaced)).toBe(401);
    expect(await whoami(fresh)).toBe(200);

    const changed = await server.client.request('POST', `${V3}/account/password`, {
      token: keep,
      body: {
        new_password: 'multi-pw-2',
        logout_devices: true,
        auth: { type: 'm.login.password', user: 'multi', password: 'multi-pw' },
      },
    });
    expect(changed.status).toBe(200);
    expect(await whoami(keep)).toBe(200);
    expect(await whoami(other)).toBe(401);
    expect(await whoami(fresh)).toBe(401);
  });

  it('deactivation refuses the cached token', async () => {
    const user = await server.client.registerUser('closing', 'closing-pw');
    expect(await whoami(user.accessToken)).toBe(200);
    const done = await server.client.request('POST', `${V3}/account/deactivate`, {
      token: user.accessToken,
      body: { auth: { type: 'm.login.password', user: 'closing', password: 'closing-pw' } },
    });
    expect(done.status).toBe(200);
    expect(await whoami(user.accessToken)).toBe(401);
  });
});

describe('AccessTokenCache', () => {
  const entry = (userId: string) => ({ userId, deviceId: 'D', lastSeenTs: 0 });

  it('keeps at most its bound, evicting the least recently used', () => {
    const cache = new AccessTokenCache(2);
    cache.remember('a', entry('@a:x'), cache.generation);
    cache.remember('b', entry('@b:x'), cache.generation);
    cache.get('a');
    cache.remember('c', entry('@c:x'), cache.generation);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.userId).toBe('@a:x');
    expect(cache.get('c')?.userId).toBe('@c:x');
  });

  it('drops an answer read before a forgetUser (a lookup racing a logout)', () => {
    const cache = new AccessTokenCache();
    const before = cache.generation;
    cache.forgetUser('@a:x');
    cache.remember('a', entry('@a:x'), before);
    expect(cache.get('a')).toBeUndefined();
    cache.remember('a', entry('@a:x'), cache.generation);
    expect(cache.get('a')?.userId).toBe('@a:x');
  });

  it('forgetUser removes only that user', () => {
    const cache = new AccessTokenCache();
    cache.remember('a1', entry('@a:x'), cache.generation);
    cache.remember('a2', entry('@a:x'), cache.generation);
    cache.remember('b', entry('@b:x'), cache.generation);
    cache.forgetUser('@a:x');
    expect(cache.get('a1')).toBeUndefined();
    expect(cache.get('a2')).toBeUndefined();
    expect(cache.get('b')?.userId).toBe('@b:x');
  });
});
