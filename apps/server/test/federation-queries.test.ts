/**
 * Federation queries over real TLS on loopback (services/federation/queries,
 * api/federation/query-profile.ts, query-directory.ts, user-devices.ts, user-keys.ts, and the
 * client API's fan-out in profile.ts, room-aliases.ts, keys-query.ts, keys-claim.ts): a user on
 * B reads the profile, devices and end-to-end keys of a user on A through B's client API.
 */
import {
  generateSigningKey,
  type JsonObject,
  type SigningKey,
  signJson,
  verifyJson,
} from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;
let aliceKey: SigningKey;

/** A device's signed identity keys, as a client builds them. */
function deviceKeys(user: TestUser, key: SigningKey): JsonObject {
  return signJson(
    {
      user_id: user.userId,
      device_id: user.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: {
        [`curve25519:${user.deviceId}`]: 'curve25519-public-key-of-alice-device-abcdefgh',
        [`ed25519:${user.deviceId}`]: key.publicKeyBase64,
      },
    },
    user.userId,
    `ed25519:${user.deviceId}`,
    key,
  );
}

function oneTimeKey(user: TestUser, key: SigningKey, value: string): JsonObject {
  return signJson({ key: value }, user.userId, `ed25519:${user.deviceId}`, key);
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  bob = await b.client.registerUser('bob');
  await call(a, alice, 'PUT', `/_matrix/client/v3/profile/${alice.userId}/displayname`, {
    displayname: 'Alice of A',
  });
  await call(a, alice, 'PUT', `/_matrix/client/v3/devices/${alice.deviceId}`, {
    display_name: 'Alice laptop',
  });
  aliceKey = generateSigningKey(alice.deviceId);
  await call(a, alice, 'POST', '/_matrix/client/v3/keys/upload', {
    device_keys: deviceKeys(alice, aliceKey),
    one_time_keys: {
      'signed_curve25519:AAAAAQ': oneTimeKey(alice, aliceKey, 'otk-one'),
      'signed_curve25519:AAAAAg': oneTimeKey(alice, aliceKey, 'otk-two'),
    },
  });
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('profile (query-profile.ts, fan-out.ts remoteProfile)', () => {
  it('serves a remote user’s profile and one field through the client API', async () => {
    const profile = await call(b, bob, 'GET', `/_matrix/client/v3/profile/${alice.userId}`);
    expect(profile['displayname']).toBe('Alice of A');
    const field = await call(
      b,
      bob,
      'GET',
      `/_matrix/client/v3/profile/${alice.userId}/displayname`,
    );
    expect(field).toEqual({ displayname: 'Alice of A' });
  });

  it('answers 404 for a user the remote server does not have', async () => {
    const response = await b.client.request('GET', '/_matrix/client/v3/profile/@nobody:a.test', {
      token: bob.accessToken,
    });
    expect(response.status).toBe(404);
  });
});

describe('room directory (query-directory.ts, fan-out.ts remoteAlias)', () => {
  it('resolves a remote alias with the servers in the room; 404 for an unknown one', async () => {
    const roomId = await createRoom(a, alice, [], {
      preset: 'public_chat',
      room_alias_name: 'atrium',
    });
    const found = await call(b, bob, 'GET', '/_matrix/client/v3/directory/room/%23atrium:a.test');
    expect(found).toEqual({ room_id: roomId, servers: ['a.test'] });
    const missing = await b.client.request(
      'GET',
      '/_matrix/client/v3/directory/room/%23nowhere:a.test',
    );
    expect(missing.status).toBe(404);
  });
});

describe('devices and keys (user-devices.ts, user-keys.ts, fan-out.ts)', () => {
  it('lists a user’s devices with their keys to another server', async () => {
    const body = await b.services.federation.client.request<Json>(
      'a.test',
      'GET',
      `/_matrix/federation/v1/user/devices/${encodeURIComponent(alice.userId)}`,
    );
    expect(body['user_id']).toBe(alice.userId);
    expect(typeof body['stream_id']).toBe('number');
    const device = (body['devices'] as Json[]).find((d) => d['device_id'] === alice.deviceId);
    expect(device?.['device_display_name']).toBe('Alice laptop');
    expect(device?.['keys']['keys'][`ed25519:${alice.deviceId}`]).toBe(aliceKey.publicKeyBase64);
    // The keys travel as the device signed them.
    expect(
      verifyJson(device?.['keys'], alice.userId, `ed25519:${alice.deviceId}`, aliceKey.publicKey)
        .valid,
    ).toBe(true);
  });

  it('refuses to answer for users of another server', async () => {
    const error = await a.services.federation.client
      .request(
        'b.test',
        'GET',
        `/_matrix/federation/v1/user/devices/${encodeURIComponent(alice.userId)}`,
      )
      .catch((e: unknown) => e as { status: number });
    expect((error as { status: number }).status).toBe(400);
  });

  it('fans /keys/query out to the user’s server', async () => {
    const body = await call(b, bob, 'POST', '/_matrix/client/v3/keys/query', {
      device_keys: { [alice.userId]: [], [bob.userId]: [] },
    });
    const keys = body['device_keys'][alice.userId][alice.deviceId];
    expect(keys['keys'][`ed25519:${alice.deviceId}`]).toBe(aliceKey.publicKeyBase64);
    expect(keys['unsigned']['device_display_name']).toBe('Alice laptop');
    expect(body['device_keys'][bob.userId]).toEqual({});
    expect(body['failures']).toEqual({});
  });

  it('fans /keys/claim out: each claim takes the next one-time key', async () => {
    const claim = () =>
      call(b, bob, 'POST', '/_matrix/client/v3/keys/claim', {
        one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
      });
    const first = await claim();
    const second = await claim();
    const third = await claim();
    const keyOf = (body: Json): string | undefined => {
      const byId = body['one_time_keys'][alice.userId]?.[alice.deviceId] as Json | undefined;
      return byId === undefined ? undefined : (Object.values(byId)[0] as Json)['key'];
    };
    expect([keyOf(first), keyOf(second)].sort()).toEqual(['otk-one', 'otk-two']);
    // No fallback key was uploaded: the device is left out once its keys are gone.
    expect(keyOf(third)).toBeUndefined();
    expect(first['failures']).toEqual({});
  });
});
