/**
 * POST /keys/upload, /keys/query, /keys/claim and GET /keys/changes (spec client-server-api
 * "End-to-End Encryption", "Key management API"), and the E2EE extensions to /sync
 * (`device_lists`, `device_one_time_keys_count`, `device_unused_fallback_key_types`). Device keys
 * are really signed with Ed25519 (@weft/signing) and checked by the server.
 */
import {
  generateSigningKey,
  type JsonObject,
  type SigningKey,
  signJson,
  verifyJson,
} from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { call, createRoom, type Json, loginDevice, sync, type TestUser } from './sync-helpers.ts';

const ALGORITHMS = ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'];

/** A device's signed identity keys, as a client builds them. */
function deviceKeys(user: TestUser, key: SigningKey): JsonObject {
  return signJson(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ALGORITHMS,
      keys: {
        [`curve25519:${user.deviceId}`]: 'curve25519-public-key-of-the-device-abcdefghijk',
        [`ed25519:${user.deviceId}`]: key.publicKeyBase64,
      },
    },
    user.userId,
    `ed25519:${user.deviceId}`,
    key,
  );
}

/** A signed one-time (or fallback) key object. */
function signedKey(user: TestUser, key: SigningKey, value: string, fallback = false): JsonObject {
  return signJson(
    { key: value, ...(fallback ? { fallback: true } : {}) },
    user.userId,
    `ed25519:${user.deviceId}`,
    key,
  );
}

function upload(server: TestServer, user: TestUser, body: Json, status = 200): Promise<Json> {
  return call(server, user, 'POST', '/_matrix/client/v3/keys/upload', body, status);
}

/** Registers the tests against servers started with `options()` (SQLite or PostgreSQL). */
export function keysSuite(options: () => TestServerOptions): void {
  describe('end-to-end keys', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let aliceKey: SigningKey;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      aliceKey = generateSigningKey(alice.deviceId);
      await createRoom(server, alice, [bob]);
    });
    afterAll(() => server.stop());

    it('uploads signed device keys, one-time and fallback keys, and reports the counts', async () => {
      // A sync before the upload: its counts are kept for later answers until keys change.
      const before = await sync(server, alice);
      expect(before['device_one_time_keys_count']).toEqual({ signed_curve25519: 0 });
      expect(before['device_unused_fallback_key_types']).toEqual([]);
      const result = await upload(server, alice, {
        device_keys: deviceKeys(alice, aliceKey),
        one_time_keys: {
          'signed_curve25519:AAAAAQ': signedKey(alice, aliceKey, 'otk1'),
          'signed_curve25519:AAAAAg': signedKey(alice, aliceKey, 'otk2'),
        },
        fallback_keys: { 'signed_curve25519:AAAAFB': signedKey(alice, aliceKey, 'fb1', true) },
      });
      expect(result).toEqual({ one_time_key_counts: { signed_curve25519: 2 } });
      // Uploading the same keys again changes nothing.
      const again = await upload(server, alice, {
        one_time_keys: { 'signed_curve25519:AAAAAQ': signedKey(alice, aliceKey, 'otk1') },
      });
      expect(again).toEqual({ one_time_key_counts: { signed_curve25519: 2 } });
      const synced = await sync(server, alice);
      expect(synced['device_one_time_keys_count']).toEqual({ signed_curve25519: 2 });
      expect(synced['device_unused_fallback_key_types']).toEqual(['signed_curve25519']);
    });

    it('refuses device keys that are unsigned, mis-signed or for another device', async () => {
      const keys = deviceKeys(alice, aliceKey);
      const forged = { ...keys, algorithms: ['m.megolm.v1.aes-sha2'] };
      expect((await upload(server, alice, { device_keys: forged }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      const { signatures: _signatures, ...unsigned } = keys;
      expect((await upload(server, alice, { device_keys: unsigned }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      const otherDevice = deviceKeys({ ...alice, deviceId: 'OTHER' }, generateSigningKey('OTHER'));
      expect((await upload(server, alice, { device_keys: otherDevice }, 400))['errcode']).toBe(
        'M_INVALID_PARAM',
      );
      expect((await upload(server, alice, { device_keys: 'no' }, 400))['errcode']).toBe(
        'M_BAD_JSON',
      );
      const clash = await upload(
        server,
        alice,
        { one_time_keys: { 'signed_curve25519:AAAAAQ': signedKey(alice, aliceKey, 'different') } },
        400,
      );
      expect(clash['errcode']).toBe('M_INVALID_PARAM');
    });

    it('answers /keys/query with the signed keys and the device display name', async () => {
      const result = await call(server, bob, 'POST', '/_matrix/client/v3/keys/query', {
        device_keys: { [alice.userId]: [] },
      });
      const device = result['device_keys'][alice.userId][alice.deviceId];
      expect(device['keys'][`ed25519:${alice.deviceId}`]).toBe(aliceKey.publicKeyBase64);
      expect(device['unsigned']).toEqual({});
      const { unsigned: _unsigned, ...signed } = device;
      expect(
        verifyJson(signed, alice.userId, `ed25519:${alice.deviceId}`, aliceKey.publicKey).valid,
      ).toBe(true);
      const filtered = await call(server, bob, 'POST', '/_matrix/client/v3/keys/query', {
        device_keys: { [alice.userId]: ['NOSUCHDEVICE'], '@nobody:test.local': [] },
      });
      expect(filtered['device_keys']).toEqual({ [alice.userId]: {}, '@nobody:test.local': {} });
      const bad = await call(
        server,
        bob,
        'POST',
        '/_matrix/client/v3/keys/query',
        { device_keys: { [alice.userId]: 'all' } },
        400,
      );
      expect(bad['errcode']).toBe('M_BAD_JSON');
    });

    it('claims each one-time key once, then the fallback key, and reports it used', async () => {
      const claim = () =>
        call(server, bob, 'POST', '/_matrix/client/v3/keys/claim', {
          one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
        });
      const claimed: string[] = [];
      for (let i = 0; i < 4; i++) {
        const keys = (await claim())['one_time_keys'][alice.userId][alice.deviceId] as Json;
        const [name, value] = Object.entries(keys)[0] as [string, Json];
        expect(
          verifyJson(value, alice.userId, `ed25519:${alice.deviceId}`, aliceKey.publicKey).valid,
        ).toBe(true);
        claimed.push(`${name}=${value['key']}`);
      }
      expect(claimed.slice(0, 2).sort()).toEqual([
        'signed_curve25519:AAAAAQ=otk1',
        'signed_curve25519:AAAAAg=otk2',
      ]);
      // One-time keys exhausted: the fallback key, again and again.
      expect(claimed.slice(2)).toEqual([
        'signed_curve25519:AAAAFB=fb1',
        'signed_curve25519:AAAAFB=fb1',
      ]);
      const synced = await sync(server, alice);
      expect(synced['device_one_time_keys_count']).toEqual({ signed_curve25519: 0 });
      expect(synced['device_unused_fallback_key_types']).toEqual([]);
      // Unknown devices are left out.
      const none = await call(server, bob, 'POST', '/_matrix/client/v3/keys/claim', {
        one_time_keys: { [alice.userId]: { NOSUCHDEVICE: 'signed_curve25519' } },
      });
      expect(none['one_time_keys']).toEqual({});
    });

    it('never hands out a claimed one-time key again, even after a retried upload', async () => {
      // A retry of the first upload (its answer lost): the keys claimed above come back.
      const retry = await upload(server, alice, {
        one_time_keys: {
          'signed_curve25519:AAAAAQ': signedKey(alice, aliceKey, 'otk1'),
          'signed_curve25519:AAAAAg': signedKey(alice, aliceKey, 'otk2'),
          'signed_curve25519:AAAAAw': signedKey(alice, aliceKey, 'otk3'),
        },
      });
      // Only the new key counts; the claimed ones are skipped.
      expect(retry).toEqual({ one_time_key_counts: { signed_curve25519: 1 } });
      expect((await sync(server, alice))['device_one_time_keys_count']).toEqual({
        signed_curve25519: 1,
      });
      // A claimed key ID with other content (a fresh crypto store numbering its keys from the
      // start again under the same device ID): the new key replaces the claimed one.
      const reused = await upload(server, alice, {
        one_time_keys: { 'signed_curve25519:AAAAAQ': signedKey(alice, aliceKey, 'other') },
      });
      expect(reused).toEqual({ one_time_key_counts: { signed_curve25519: 2 } });
      // An unclaimed key ID with other content is still refused.
      const clash = await upload(
        server,
        alice,
        { one_time_keys: { 'signed_curve25519:AAAAAw': signedKey(alice, aliceKey, 'other') } },
        400,
      );
      expect(clash['errcode']).toBe('M_INVALID_PARAM');
      const claimed: string[] = [];
      for (let i = 0; i < 3; i++) {
        const answer = await call(server, bob, 'POST', '/_matrix/client/v3/keys/claim', {
          one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
        });
        const keys = answer['one_time_keys'][alice.userId][alice.deviceId] as Json;
        claimed.push(
          ...Object.entries(keys).map(([name, value]) => `${name}=${(value as Json)['key']}`),
        );
      }
      expect(claimed).toEqual([
        'signed_curve25519:AAAAAw=otk3',
        'signed_curve25519:AAAAAQ=other',
        'signed_curve25519:AAAAFB=fb1',
      ]);
    });

    it("forgets a device's claimed one-time keys when its identity keys change", async () => {
      const carol = await server.client.registerUser('newaccount');
      const first = generateSigningKey(carol.deviceId);
      const otk = (key: SigningKey) => ({
        'signed_curve25519:AAAAAQ': signedKey(carol, key, 'same'),
      });
      await upload(server, carol, {
        device_keys: deviceKeys(carol, first),
        one_time_keys: otk(first),
      });
      await call(server, bob, 'POST', '/_matrix/client/v3/keys/claim', {
        one_time_keys: { [carol.userId]: { [carol.deviceId]: 'signed_curve25519' } },
      });
      // A new crypto account on the same device ID: its first key is stored even if it were
      // identical to a claimed key of the old account.
      const second = generateSigningKey(carol.deviceId);
      const again = await upload(server, carol, { device_keys: deviceKeys(carol, second) });
      expect(again).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
      const { db } = server.services.ctx;
      const rows = await db.query(
        'SELECT key_id FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2',
        [carol.userId, carol.deviceId],
      );
      expect(rows).toEqual([]);
    });

    it('reports device-list changes in /sync and /keys/changes, and left users', async () => {
      const token = (await sync(server, bob))['next_batch'];
      const tablet = await loginDevice(server, alice.userId, 'TABLET');
      const waiting = sync(server, bob, { since: token, timeout: 10_000 });
      await upload(server, tablet, {
        device_keys: deviceKeys(tablet, generateSigningKey(tablet.deviceId)),
      });
      const changed = await waiting;
      expect(changed['device_lists']['changed']).toContain(alice.userId);
      const now = (await sync(server, bob))['next_batch'];
      const changes = await call(
        server,
        bob,
        'GET',
        `/_matrix/client/v3/keys/changes?from=${token}&to=${now}`,
      );
      expect(changes['changed']).toContain(alice.userId);
      expect(changes['left']).toEqual([]);
      const query = await call(server, bob, 'POST', '/_matrix/client/v3/keys/query', {
        device_keys: { [alice.userId]: [] },
      });
      expect(Object.keys(query['device_keys'][alice.userId]).sort()).toEqual(
        [alice.deviceId, 'TABLET'].sort(),
      );

      // Removing the device removes its keys and is a change too.
      const beforeLogout = (await sync(server, bob))['next_batch'];
      await call(server, tablet, 'POST', '/_matrix/client/v3/logout', {});
      const afterLogout = await sync(server, bob, { since: beforeLogout, timeout: 10_000 });
      expect(afterLogout['device_lists']['changed']).toContain(alice.userId);
      const queryAfter = await call(server, bob, 'POST', '/_matrix/client/v3/keys/query', {
        device_keys: { [alice.userId]: [] },
      });
      expect(Object.keys(queryAfter['device_keys'][alice.userId])).toEqual([alice.deviceId]);

      // Carol shares a room with bob, then leaves it: bob stops tracking her.
      const carol = await server.client.registerUser('carol');
      const shared = await createRoom(server, bob, [carol]);
      const beforeLeave = (await sync(server, bob))['next_batch'];
      await call(server, carol, 'POST', `/_matrix/client/v3/rooms/${shared}/leave`, {});
      const left = await sync(server, bob, { since: beforeLeave });
      expect(left['device_lists']['left']).toEqual([carol.userId]);
      expect(left['device_lists']['changed']).not.toContain(carol.userId);
    });

    it('refuses /keys/changes without tokens and /keys/claim with bad bodies', async () => {
      const missing = await call(
        server,
        bob,
        'GET',
        '/_matrix/client/v3/keys/changes',
        undefined,
        400,
      );
      expect(missing['errcode']).toBe('M_MISSING_PARAM');
      const bad = await call(
        server,
        bob,
        'GET',
        '/_matrix/client/v3/keys/changes?from=x&to=y',
        undefined,
        400,
      );
      expect(bad['errcode']).toBe('M_INVALID_PARAM');
      const claim = await call(
        server,
        bob,
        'POST',
        '/_matrix/client/v3/keys/claim',
        { one_time_keys: { [alice.userId]: { [alice.deviceId]: 5 } } },
        400,
      );
      expect(claim['errcode']).toBe('M_BAD_JSON');
    });
  });
}
