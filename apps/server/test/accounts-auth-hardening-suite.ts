/**
 * Accounts and auth hardening over real HTTP: failed UIA password stages are counted per user
 * across the UIA endpoints (429 after too many), a login checked against a password that changes
 * (or an account deactivated) before its token is issued is refused, a password change and its
 * logout of other devices are one transaction, registration needs a password, a login device ID
 * may not be a cross-signing key ID, `@Alice:server` logs in as `@alice:server`, and an erasing
 * deactivation deletes the user's non-event data. Run on SQLite
 * (accounts-auth-hardening.test.ts) and PostgreSQL (accounts-auth-hardening-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UIA_MAX_FAILURES } from '../src/api/client/uia.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { newIdentity, signingKeysBody } from './keys-cross-signing-suite.ts';
import { createRoom, type Json } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const PASSWORD = 'correct horse battery staple';

/** The hardening tests, on the database `options` chooses. */
export function authHardeningSuite(options: () => TestServerOptions): void {
  describe('accounts and auth hardening', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(options());
    });
    afterAll(() => server.stop());

    const request = (method: string, path: string, body: unknown, token?: string) =>
      server.client.request<Json>(method, `${V3}${path}`, {
        body,
        ...(token !== undefined ? { token } : {}),
      });
    const whoami = async (token: string) =>
      (await server.client.request('GET', `${V3}/account/whoami`, { token })).status;
    const login = (user: string, password: string, deviceId?: string) =>
      request('POST', '/login', {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user },
        password,
        ...(deviceId !== undefined ? { device_id: deviceId } : {}),
      });
    const passwordAuth = (userId: string, password: string) => ({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: userId },
      password,
    });

    it('counts failed UIA password stages per user across endpoints, then answers 429', async () => {
      const user = await server.client.registerUser('guessed', PASSWORD);
      const bystander = await server.client.registerUser('bystander', PASSWORD);
      const keys = signingKeysBody(user, newIdentity());
      // The first upload needs no auth; replacing the keys needs the password stage.
      expect(
        (await request('POST', '/keys/device_signing/upload', keys, user.accessToken)).status,
      ).toBe(200);
      const replacement = signingKeysBody(user, newIdentity());
      for (let i = 0; i < UIA_MAX_FAILURES; i++) {
        const wrong = await request(
          'POST',
          '/keys/device_signing/upload',
          { ...replacement, auth: passwordAuth(user.userId, `guess ${i}`) },
          user.accessToken,
        );
        expect(wrong.status).toBe(401);
        expect(wrong.body['errcode']).toBe('M_FORBIDDEN');
      }
      // Even the right password is refused now, on this endpoint and on every other UIA one.
      const limited = await request(
        'POST',
        '/keys/device_signing/upload',
        { ...replacement, auth: passwordAuth(user.userId, PASSWORD) },
        user.accessToken,
      );
      expect(limited.status).toBe(429);
      expect(limited.body['errcode']).toBe('M_LIMIT_EXCEEDED');
      expect(limited.body['retry_after_ms']).toBeGreaterThan(0);
      const elsewhere = await request(
        'POST',
        '/delete_devices',
        { devices: [], auth: passwordAuth(user.userId, PASSWORD) },
        user.accessToken,
      );
      expect(elsewhere.status).toBe(429);
      expect(elsewhere.body['errcode']).toBe('M_LIMIT_EXCEEDED');
      // Another user is not affected.
      const other = await request(
        'POST',
        '/delete_devices',
        { devices: [], auth: passwordAuth(bystander.userId, PASSWORD) },
        bystander.accessToken,
      );
      expect(other.status).toBe(200);
    });

    it('refuses a login whose password changed before its token was issued', async () => {
      const user = await server.client.registerUser('racer', PASSWORD);
      const { accounts, ctx } = server.services;
      const db = ctx.db;
      const original = db.transaction;
      // Force the interleaving: the password changes right after login checked it, before the
      // transaction that issues the token.
      db.transaction = (async (callback: Parameters<typeof original>[0]) => {
        db.transaction = original;
        await accounts.changePassword(user.userId, user.deviceId, 'the new one', true);
        return original.call(db, callback);
      }) as typeof original;
      await expect(
        accounts.loginWithPassword({ userId: user.userId, password: PASSWORD, deviceId: 'LATE' }),
      ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
      db.transaction = original;
      expect(await accounts.getDevice(user.userId, 'LATE')).toBeUndefined();
      expect((await login('racer', 'the new one')).status).toBe(200);
    });

    it('refuses a login whose account was deactivated before its token was issued', async () => {
      const user = await server.client.registerUser('leaving', PASSWORD);
      const { accounts, ctx } = server.services;
      const db = ctx.db;
      const original = db.transaction;
      db.transaction = (async (callback: Parameters<typeof original>[0]) => {
        db.transaction = original;
        await accounts.deactivate(user.userId);
        return original.call(db, callback);
      }) as typeof original;
      await expect(
        accounts.loginWithPassword({ userId: user.userId, password: PASSWORD }),
      ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
      db.transaction = original;
      expect(await accounts.listDevices(user.userId)).toEqual([]);
    });

    it('changes the password and logs out other devices in one transaction', async () => {
      const user = await server.client.registerUser('atomic', PASSWORD);
      const other = await login('atomic', PASSWORD, 'OTHER');
      expect(other.status).toBe(200);
      const { accounts } = server.services;
      let fail = true;
      accounts.onDeviceChange(async (_tx, change) => {
        if (fail && change.userId === user.userId && change.change === 'removed') {
          throw new Error('listener failed');
        }
      });
      await expect(
        accounts.changePassword(user.userId, user.deviceId, 'newer', true),
      ).rejects.toThrow('listener failed');
      fail = false;
      // Nothing happened: the old password still works and the other device is still there.
      expect((await login('atomic', PASSWORD)).status).toBe(200);
      expect((await login('atomic', 'newer')).status).toBe(403);
      expect(await whoami(String(other.body['access_token']))).toBe(200);
      // And when it succeeds, both happen.
      await accounts.changePassword(user.userId, user.deviceId, 'newer', true);
      expect(await whoami(String(other.body['access_token']))).toBe(401);
      expect(await whoami(user.accessToken)).toBe(200);
    });

    it('requires a password to register', async () => {
      const probe = await request('POST', '/register', { username: 'nopass' });
      expect(probe.status).toBe(401);
      const done = await request('POST', '/register', {
        username: 'nopass',
        auth: { type: 'm.login.dummy', session: probe.body['session'] },
      });
      expect(done.status).toBe(400);
      expect(done.body['errcode']).toBe('M_MISSING_PARAM');
      expect(await server.services.accounts.userExists('@nopass:test.local')).toBe(false);
    });

    it('refuses a login device ID that is a cross-signing key ID', async () => {
      const user = await server.client.registerUser('signer', PASSWORD);
      const identity = newIdentity();
      const upload = await request(
        'POST',
        '/keys/device_signing/upload',
        signingKeysBody(user, identity),
        user.accessToken,
      );
      expect(upload.status).toBe(200);
      // Four refusals: fewer than the failed-password limit, should a refusal count as one.
      const refusedIds = [
        identity.master.publicKeyBase64,
        `ed25519:${identity.master.publicKeyBase64}`,
        identity.selfSigning.publicKeyBase64,
        identity.userSigning.publicKeyBase64,
      ];
      for (const deviceId of refusedIds) {
        const refused = await login('signer', PASSWORD, deviceId);
        expect(refused.status).toBe(403);
        expect(refused.body['errcode']).toBe('M_FORBIDDEN');
      }
      expect((await login('signer', PASSWORD, 'PLAINDEVICE')).status).toBe(200);
    });

    it('erases the non-event data of a user deactivated with erase: true', async () => {
      const erased = await server.client.registerUser('erased', PASSWORD);
      const kept = await server.client.registerUser('kept', PASSWORD);
      const { db } = server.services.ctx;
      for (const user of [erased, kept]) {
        const token = user.accessToken;
        const u = encodeURIComponent(user.userId);
        const roomId = await createRoom(server, user);
        const r = encodeURIComponent(roomId);
        const writes: [string, string, unknown][] = [
          ['PUT', `/user/${u}/account_data/org.example.secret`, { secret: 1 }],
          ['PUT', `/user/${u}/rooms/${r}/account_data/org.example.room`, { secret: 2 }],
          ['PUT', `/user/${u}/rooms/${r}/tags/u.work`, { order: 0.5 }],
          ['POST', '/keys/device_signing/upload', signingKeysBody(user, newIdentity())],
          ['POST', `/user/${u}/filter`, { room: { timeline: { limit: 5 } } }],
          ['PUT', `/profile/${u}/displayname`, { displayname: 'Secret Name' }],
          ['PUT', '/pushrules/global/content/secretrule', { pattern: 'secret', actions: [] }],
          [
            'POST',
            '/room_keys/version',
            { algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'x' } },
          ],
        ];
        for (const [method, path, body] of writes) {
          const response = await request(method, path, body, token);
          expect(response.status, `${method} ${path} ${JSON.stringify(response.body)}`).toBe(200);
        }
      }
      const deactivate = (user: typeof erased, erase: boolean) =>
        request(
          'POST',
          '/account/deactivate',
          { erase, auth: passwordAuth(user.userId, PASSWORD) },
          user.accessToken,
        );
      expect((await deactivate(erased, true)).status).toBe(200);
      expect((await deactivate(kept, false)).status).toBe(200);

      const count = async (table: string, column: string, userId: string) =>
        Number(
          (
            await db.queryOne<{ n: number }>(
              `SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = $1`,
              [userId],
            )
          )?.n,
        );
      const tables: [string, string][] = [
        ['account_data', 'user_id'],
        ['e2e_cross_signing_keys', 'user_id'],
        ['e2e_cross_signing_signatures', 'signer_user_id'],
        ['profiles', 'user_id'],
        ['filters', 'user_id'],
        ['push_rules', 'user_id'],
        ['key_backup_versions', 'user_id'],
      ];
      for (const [table, column] of tables) {
        expect(await count(table, column, erased.userId), table).toBe(0);
      }
      // A deactivation without erase keeps them (key backups aside, which always go).
      expect(await count('account_data', 'user_id', kept.userId)).toBeGreaterThanOrEqual(3);
      expect(await count('e2e_cross_signing_keys', 'user_id', kept.userId)).toBe(3);
      expect(await count('filters', 'user_id', kept.userId)).toBe(1);
      expect(await server.services.accounts.isErased(erased.userId)).toBe(true);
      expect(await server.services.accounts.isErased(kept.userId)).toBe(false);
    });

    it('lowercases the localpart of a full user ID of this server at login', async () => {
      await server.client.registerUser('mixed', PASSWORD);
      for (const user of ['@Mixed:test.local', '@MIXED:test.local', 'Mixed']) {
        const response = await login(user, PASSWORD);
        expect(response.status).toBe(200);
        expect(response.body['user_id']).toBe('@mixed:test.local');
      }
      // The deprecated top-level `user` too.
      const legacy = await request('POST', '/login', {
        type: 'm.login.password',
        user: '@Mixed:test.local',
        password: PASSWORD,
      });
      expect(legacy.status).toBe(200);
    });
  });
}
