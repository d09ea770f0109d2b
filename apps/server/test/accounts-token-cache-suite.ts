/**
 * The in-memory access-token cache: every way a token dies refuses it on the very next request,
 * even though the token was just used (so it sat in the cache), over real HTTP. Run on SQLite
 * (accounts-token-cache.test.ts) and PostgreSQL (accounts-token-cache-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';

const V3 = '/_matrix/client/v3';

/** Registers the token-cache tests against servers started with `options()`. */
export function tokenCacheSuite(options: () => TestServerOptions): void {
  describe('access-token cache', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(options());
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
}
