/**
 * Cross-signing on one server (the tests of keys-cross-signing.test.ts, on SQLite there and on
 * PostgreSQL in push-keys-rooms-postgres.test.ts), and the key-making helpers both use.
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
import { ClientServerSpec } from './openapi.ts';
import { call, createRoom, type Json, loginDevice, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const PASSWORD = 'correct horse battery staple';

/** Signs with `key` under any key ID (cross-signing key IDs are the public keys). */
export function sign(
  object: JsonObject,
  userId: string,
  keyId: string,
  key: SigningKey,
): JsonObject {
  return signJson(object, userId, keyId, key.exportSeed());
}

/** A device's signed identity keys. */
export function deviceKeys(user: TestUser, key: SigningKey): JsonObject {
  return sign(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
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

/** A cross-signing key object for `key`, optionally signed by `signer` (the master key). */
export function crossSigningKey(
  user: TestUser,
  usage: string,
  key: SigningKey,
  signer?: SigningKey,
): JsonObject {
  const object: JsonObject = {
    user_id: user.userId,
    usage: [usage],
    keys: { [`ed25519:${key.publicKeyBase64}`]: key.publicKeyBase64 },
  };
  return signer === undefined
    ? object
    : sign(object, user.userId, `ed25519:${signer.publicKeyBase64}`, signer);
}

export interface Identity {
  readonly device: SigningKey;
  readonly master: SigningKey;
  readonly selfSigning: SigningKey;
  readonly userSigning: SigningKey;
}

export function newIdentity(): Identity {
  return {
    device: generateSigningKey(),
    master: generateSigningKey(),
    selfSigning: generateSigningKey(),
    userSigning: generateSigningKey(),
  };
}

export function signingKeysBody(user: TestUser, id: Identity): Json {
  return {
    master_key: crossSigningKey(user, 'master', id.master),
    self_signing_key: crossSigningKey(user, 'self_signing', id.selfSigning, id.master),
    user_signing_key: crossSigningKey(user, 'user_signing', id.userSigning, id.master),
  };
}

/** The tests, on the database `options` chooses (SQLite by default). */
export function crossSigningSuite(options: () => TestServerOptions = () => ({})): void {
  describe('cross-signing on one server', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    const aliceId = newIdentity();
    const bobId = newIdentity();
    const spec = new ClientServerSpec();

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      await createRoom(server, alice, [bob]);
      for (const [user, id] of [
        [alice, aliceId],
        [bob, bobId],
      ] as const) {
        await call(server, user, 'POST', `${V3}/keys/upload`, {
          device_keys: deviceKeys(user, id.device),
        });
      }
    });
    afterAll(() => server.stop());

    async function checked(
      user: TestUser,
      path: string,
      body: unknown,
      status = 200,
    ): Promise<Json> {
      const response = await server.client.request<Json>('POST', V3 + path, {
        token: user.accessToken,
        body,
      });
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      await spec.expectValid('POST', V3 + path, status, response.body);
      return response.body;
    }

    async function query(viewer: TestUser, userId: string): Promise<Json> {
      return checked(viewer, '/keys/query', { device_keys: { [userId]: [] } });
    }

    it('uploads the first keys without UIA and tells room-mates', async () => {
      const before = (await sync(server, bob))['next_batch'];
      expect(
        await checked(alice, '/keys/device_signing/upload', signingKeysBody(alice, aliceId)),
      ).toEqual({});
      const after = await sync(server, bob, { since: before, timeout: 0 });
      expect(after['device_lists']['changed']).toContain(alice.userId);

      const seen = await query(bob, alice.userId);
      const masterId = `ed25519:${aliceId.master.publicKeyBase64}`;
      expect(seen['master_keys'][alice.userId]['keys'][masterId]).toBe(
        aliceId.master.publicKeyBase64,
      );
      const selfSigning = seen['self_signing_keys'][alice.userId];
      expect(verifyJson(selfSigning, alice.userId, masterId, aliceId.master.publicKey).valid).toBe(
        true,
      );
      // The user-signing key is private to its owner.
      expect(seen['user_signing_keys']).toEqual({});
      const own = await query(alice, alice.userId);
      expect(Object.keys(own['user_signing_keys'])).toEqual([alice.userId]);
    });

    it('refuses keys not signed by the master key, and wrong usages', async () => {
      const stranger = generateSigningKey();
      const forged = await server.client.request<Json>('POST', `${V3}/keys/device_signing/upload`, {
        token: bob.accessToken,
        body: {
          master_key: crossSigningKey(bob, 'master', bobId.master),
          self_signing_key: crossSigningKey(bob, 'self_signing', bobId.selfSigning, stranger),
        },
      });
      expect(forged.status).toBe(400);
      expect(forged.body['errcode']).toBe('M_INVALID_SIGNATURE');
      const usage = await server.client.request<Json>('POST', `${V3}/keys/device_signing/upload`, {
        token: bob.accessToken,
        body: { master_key: crossSigningKey(bob, 'self_signing', bobId.master) },
      });
      expect(usage.status).toBe(400);
      expect(usage.body['errcode']).toBe('M_INVALID_PARAM');
      // Nothing was stored: bob still has no master key.
      expect((await query(alice, bob.userId))['master_keys']).toEqual({});
    });

    it('needs the password stage to replace existing keys', async () => {
      const replacement = generateSigningKey();
      const body = {
        self_signing_key: crossSigningKey(alice, 'self_signing', replacement, aliceId.master),
      };
      // The UIA challenge (spec "User-Interactive Authentication API"; cross_signing.yaml does not
      // list the 401, so it is not schema-checked here).
      const challenge = await call(
        server,
        alice,
        'POST',
        `${V3}/keys/device_signing/upload`,
        body,
        401,
      );
      expect(challenge['flows']).toEqual([{ stages: ['m.login.password'] }]);
      const wrong = await server.client.request<Json>('POST', `${V3}/keys/device_signing/upload`, {
        token: alice.accessToken,
        body: {
          ...body,
          auth: {
            type: 'm.login.password',
            user: alice.userId,
            password: 'nope',
            session: challenge['session'],
          },
        },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body['errcode']).toBe('M_FORBIDDEN');
      // Re-upload the original self-signing key with the password: accepted.
      await checked(alice, '/keys/device_signing/upload', {
        self_signing_key: crossSigningKey(
          alice,
          'self_signing',
          aliceId.selfSigning,
          aliceId.master,
        ),
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: alice.userId },
          password: PASSWORD,
          session: challenge['session'],
        },
      });
    });

    it('accepts an identical re-upload without UIA, not a different master key', async () => {
      // A retry whose answer was lost: no new keys, so no UIA (cross_signing.yaml).
      expect(
        await checked(alice, '/keys/device_signing/upload', signingKeysBody(alice, aliceId)),
      ).toEqual({});
      expect(
        await checked(alice, '/keys/device_signing/upload', {
          master_key: crossSigningKey(alice, 'master', aliceId.master),
        }),
      ).toEqual({});
      const other = newIdentity();
      const challenge = await call(
        server,
        alice,
        'POST',
        `${V3}/keys/device_signing/upload`,
        signingKeysBody(alice, other),
        401,
      );
      expect(challenge['flows']).toEqual([{ stages: ['m.login.password'] }]);
      // The same master key with a new self-signing key is a new key too.
      await call(
        server,
        alice,
        'POST',
        `${V3}/keys/device_signing/upload`,
        {
          master_key: crossSigningKey(alice, 'master', aliceId.master),
          self_signing_key: crossSigningKey(
            alice,
            'self_signing',
            other.selfSigning,
            aliceId.master,
          ),
        },
        401,
      );
      const seen = await query(bob, alice.userId);
      expect(
        seen['master_keys'][alice.userId]['keys'][`ed25519:${aliceId.master.publicKeyBase64}`],
      ).toBe(aliceId.master.publicKeyBase64);
    });

    it('lets only one of two concurrent first uploads through without UIA', async () => {
      const carol = await server.client.registerUser('carol');
      const first = newIdentity();
      const second = newIdentity();
      const send = (id: Identity) =>
        server.client.request<Json>('POST', `${V3}/keys/device_signing/upload`, {
          token: carol.accessToken,
          body: signingKeysBody(carol, id),
        });
      const answers = await Promise.all([send(first), send(second)]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 401]);
      const winner = answers[0]?.status === 200 ? first : second;
      const seen = await query(bob, carol.userId);
      expect(Object.values(seen['master_keys'][carol.userId]['keys'])).toEqual([
        winner.master.publicKeyBase64,
      ]);
    });

    it('merges uploaded signatures into device and master keys', async () => {
      // Alice's self-signing key signs her device; her device signs her master key.
      const current = (await query(alice, alice.userId))['device_keys'][alice.userId][
        alice.deviceId
      ];
      const { signatures: _s, unsigned: _u, ...device } = current;
      const selfId = `ed25519:${aliceId.selfSigning.publicKeyBase64}`;
      const signedDevice = sign(device, alice.userId, selfId, aliceId.selfSigning);
      const master = crossSigningKey(alice, 'master', aliceId.master);
      const deviceSignedMaster = sign(
        master,
        alice.userId,
        `ed25519:${alice.deviceId}`,
        aliceId.device,
      );
      expect(
        await checked(alice, '/keys/signatures/upload', {
          [alice.userId]: {
            [alice.deviceId]: signedDevice,
            [aliceId.master.publicKeyBase64]: deviceSignedMaster,
          },
        }),
      ).toEqual({});

      const seen = await query(bob, alice.userId);
      const seenDevice = seen['device_keys'][alice.userId][alice.deviceId];
      expect(Object.keys(seenDevice['signatures'][alice.userId]).sort()).toEqual(
        [`ed25519:${alice.deviceId}`, selfId].sort(),
      );
      expect(
        verifyJson(seenDevice, alice.userId, selfId, aliceId.selfSigning.publicKey).valid,
      ).toBe(true);
      const seenMaster = seen['master_keys'][alice.userId];
      expect(
        verifyJson(seenMaster, alice.userId, `ed25519:${alice.deviceId}`, aliceId.device.publicKey)
          .valid,
      ).toBe(true);

      // Bob cross-signs Alice with his user-signing key: only Bob sees that signature.
      await checked(bob, '/keys/device_signing/upload', signingKeysBody(bob, bobId));
      const bobSigned = sign(
        crossSigningKey(alice, 'master', aliceId.master),
        bob.userId,
        `ed25519:${bobId.userSigning.publicKeyBase64}`,
        bobId.userSigning,
      );
      expect(
        await checked(bob, '/keys/signatures/upload', {
          [alice.userId]: { [aliceId.master.publicKeyBase64]: bobSigned },
        }),
      ).toEqual({});
      const bobView = (await query(bob, alice.userId))['master_keys'][alice.userId];
      expect(
        verifyJson(
          bobView,
          bob.userId,
          `ed25519:${bobId.userSigning.publicKeyBase64}`,
          bobId.userSigning.publicKey,
        ).valid,
      ).toBe(true);
      const aliceView = (await query(alice, alice.userId))['master_keys'][alice.userId];
      expect(aliceView['signatures'][bob.userId]).toBeUndefined();
    });

    it('reports invalid signatures in failures and stores nothing for them', async () => {
      const current = (await query(alice, alice.userId))['device_keys'][alice.userId][
        alice.deviceId
      ];
      const { signatures: _s, unsigned: _u, ...device } = current;
      // Signed by a key that is not Alice's self-signing key.
      const impostor = generateSigningKey();
      const forged = sign(
        device,
        alice.userId,
        `ed25519:${aliceId.selfSigning.publicKeyBase64}`,
        impostor,
      );
      const tampered = {
        ...sign(
          device,
          alice.userId,
          `ed25519:${aliceId.selfSigning.publicKeyBase64}`,
          aliceId.selfSigning,
        ),
        algorithms: ['x'],
      };
      const result = await checked(alice, '/keys/signatures/upload', {
        [alice.userId]: { [alice.deviceId]: forged, NOSUCHDEVICE: { user_id: alice.userId } },
      });
      expect(result['failures'][alice.userId][alice.deviceId]['errcode']).toBe(
        'M_INVALID_SIGNATURE',
      );
      expect(result['failures'][alice.userId]['NOSUCHDEVICE']['errcode']).toBe(
        'M_INVALID_SIGNATURE',
      );
      const second = await checked(alice, '/keys/signatures/upload', {
        [alice.userId]: { [alice.deviceId]: tampered },
      });
      expect(second['failures'][alice.userId][alice.deviceId]['error']).toMatch(
        /not the stored device key/,
      );
      // The stored signature is still the valid one.
      const seen = (await query(bob, alice.userId))['device_keys'][alice.userId][alice.deviceId];
      expect(
        verifyJson(
          seen,
          alice.userId,
          `ed25519:${aliceId.selfSigning.publicKeyBase64}`,
          aliceId.selfSigning.publicKey,
        ).valid,
      ).toBe(true);
    });

    it('drops signatures of a removed device and of replaced identity keys', async () => {
      const selfId = `ed25519:${aliceId.selfSigning.publicKeyBase64}`;
      const deviceKey = generateSigningKey();
      /** Logs in RECREATED, uploads `key` as its identity keys, and cross-signs them. */
      const setUp = async (signIt: boolean): Promise<TestUser> => {
        const device = await loginDevice(server, alice.userId, 'RECREATED');
        await call(server, device, 'POST', `${V3}/keys/upload`, {
          device_keys: deviceKeys(device, deviceKey),
        });
        if (signIt) {
          const signed = sign(
            deviceKeys(device, deviceKey),
            alice.userId,
            selfId,
            aliceId.selfSigning,
          );
          expect(
            await checked(alice, '/keys/signatures/upload', {
              [alice.userId]: { RECREATED: signed },
            }),
          ).toEqual({});
        }
        return device;
      };
      const signers = async (): Promise<string[]> => {
        const seen = (await query(bob, alice.userId))['device_keys'][alice.userId]['RECREATED'];
        return Object.keys(seen['signatures'][alice.userId]).sort();
      };
      const device = await setUp(true);
      expect(await signers()).toEqual([`ed25519:RECREATED`, selfId].sort());
      const removed = await server.client.request('DELETE', `${V3}/devices/RECREATED`, {
        token: alice.accessToken,
        body: {
          auth: {
            type: 'm.login.password',
            identifier: { type: 'm.id.user', user: alice.userId },
            password: PASSWORD,
          },
        },
      });
      expect(removed.status, JSON.stringify(removed.body)).toBe(200);
      // The same device ID (and keys) again: the old cross-signing signature is gone.
      const again = await setUp(false);
      expect(await signers()).toEqual(['ed25519:RECREATED']);
      expect(device.deviceId).toBe(again.deviceId);
      // Signed again, then new identity keys for the device: the signature goes with the old ones.
      await checked(alice, '/keys/signatures/upload', {
        [alice.userId]: {
          RECREATED: sign(deviceKeys(again, deviceKey), alice.userId, selfId, aliceId.selfSigning),
        },
      });
      expect(await signers()).toEqual([`ed25519:RECREATED`, selfId].sort());
      await call(server, again, 'POST', `${V3}/keys/upload`, {
        device_keys: deviceKeys(again, generateSigningKey()),
      });
      expect(await signers()).toEqual(['ed25519:RECREATED']);
    });
  });
}
