/**
 * `POST /logout/all` (spec client-server-api "POST /_matrix/client/v3/logout/all"): every access
 * token of the user is invalid, every device gone with its removal recorded in the device-list
 * stream — also for a device whose login committed while logout/all was under way, which must
 * never be left behind without its token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';
import { loginDevice, type TestUser } from './sync-helpers.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

async function whoamiStatus(token: string): Promise<number> {
  return (await server.client.request('GET', '/_matrix/client/v3/account/whoami', { token }))
    .status;
}

/** The device-list changes recorded for `userId` after stream position `after`. */
async function deviceListChanges(userId: string, after: number): Promise<number> {
  const rows = await server.services.ctx.db.query(
    'SELECT stream_position FROM device_list_changes WHERE user_id = $1 AND stream_position > $2',
    [userId, after],
  );
  return rows.length;
}

async function lastDeviceListChange(userId: string): Promise<number> {
  const row = await server.services.ctx.db.queryOne<{ last: number | null }>(
    'SELECT MAX(stream_position) AS last FROM device_list_changes WHERE user_id = $1',
    [userId],
  );
  return Number(row?.last ?? 0);
}

describe('logout/all', () => {
  it('invalidates every token, removes every device and records each removal', async () => {
    const first: TestUser = await server.client.registerUser('ann');
    const second = await loginDevice(server, first.userId, 'ANN2');
    const before = await lastDeviceListChange(first.userId);

    const answer = await server.client.request('POST', '/_matrix/client/v3/logout/all', {
      token: second.accessToken,
    });
    expect(answer.status).toBe(200);
    expect(await whoamiStatus(first.accessToken)).toBe(401);
    expect(await whoamiStatus(second.accessToken)).toBe(401);
    expect(await server.services.accounts.listDevices(first.userId)).toEqual([]);
    expect(await deviceListChanges(first.userId, before)).toBe(2);
  });

  it('leaves no half-deleted device when a login commits while it runs', async () => {
    const first: TestUser = await server.client.registerUser('bea');
    const second = await loginDevice(server, first.userId, 'BEA2');
    const db = server.services.ctx.db;
    const accounts = server.services.accounts;

    // logoutAll's first transaction waits until another login has committed: the interleaving of
    // a login arriving after logout/all began (before the fix: after it had read the devices).
    let late: TestUser | undefined;
    let before = 0;
    const transaction = db.transaction;
    db.transaction = (async (work) => {
      db.transaction = transaction;
      const login = await accounts.loginWithPassword({
        userId: first.userId,
        password: 'correct horse battery staple',
        deviceId: 'LATE',
      });
      late = { userId: login.userId, accessToken: login.accessToken, deviceId: login.deviceId };
      before = await lastDeviceListChange(first.userId);
      return transaction.call(db, work);
    }) as typeof db.transaction;
    try {
      await accounts.logoutAll(first.userId);
    } finally {
      db.transaction = transaction;
    }
    if (late === undefined) throw new Error('the late login did not run');

    // Logged in before logout/all answered: its token and device are gone as well, removed like
    // the others (not a device left with no token).
    for (const user of [first, second, late])
      expect(await whoamiStatus(user.accessToken)).toBe(401);
    expect(await accounts.listDevices(first.userId)).toEqual([]);
    expect(await deviceListChanges(first.userId, before)).toBe(3);
  });
});
