/**
 * Cross-signing (client-server-api "Cross-signing") over real HTTP: keys made and signed with
 * @weft/signing the way a client makes them, uploaded through `/keys/device_signing/upload`
 * (UIA only when replacing keys) and `/keys/signatures/upload`, read back through `/keys/query`
 * with signatures merged and the user-signing key shown only to its owner; uploads show up in
 * room-mates' `device_lists.changed`. Over federation (real TLS), a user on another server sees
 * the master and self-signing keys. Responses are checked against the spec's OpenAPI schemas.
 */
import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import {
  crossSigningSuite,
  deviceKeys,
  newIdentity,
  signingKeysBody,
} from './keys-cross-signing-suite.ts';
import { call, createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';

crossSigningSuite();

describe('cross-signing keys over federation', () => {
  let federation: TestFederation;
  let a: TestServer;
  let b: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  const aliceId = newIdentity();

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test']);
    a = federation.server('a.test');
    b = federation.server('b.test');
    alice = await a.client.registerUser('alice');
    bob = await b.client.registerUser('bob');
    await call(a, alice, 'POST', `${V3}/keys/upload`, {
      device_keys: deviceKeys(alice, aliceId.device),
    });
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    await call(b, bob, 'POST', `${V3}/join/${encodeURIComponent(roomId)}?via=a.test`, {});
  }, 60_000);

  it('tells the other server of new keys: its users see the user in device_lists.changed', async () => {
    const since = (await sync(b, bob))['next_batch'];
    await call(
      a,
      alice,
      'POST',
      `${V3}/keys/device_signing/upload`,
      signingKeysBody(alice, aliceId),
    );
    // Delivery is asynchronous: long-poll until B reports the change.
    let token = since;
    for (let i = 0; i < 40; i++) {
      const body = await sync(b, bob, { since: token, timeout: 500 });
      if ((body['device_lists']?.['changed'] ?? []).includes(alice.userId)) return;
      token = body['next_batch'];
    }
    throw new Error('B never reported alice in device_lists.changed');
  });
  afterAll(() => federation.close());

  it('answers master and self-signing keys to another server, never the user-signing key', async () => {
    const body = await call(b, bob, 'POST', `${V3}/keys/query`, {
      device_keys: { [alice.userId]: [] },
    });
    expect(body['failures']).toEqual({});
    expect(body['master_keys'][alice.userId]['keys']).toEqual({
      [`ed25519:${aliceId.master.publicKeyBase64}`]: aliceId.master.publicKeyBase64,
    });
    expect(body['self_signing_keys'][alice.userId]['usage']).toEqual(['self_signing']);
    expect(body['user_signing_keys']).toEqual({});
    expect(Object.keys(body['device_keys'][alice.userId])).toEqual([alice.deviceId]);
  });

  it('includes master and self-signing keys in user/devices', async () => {
    const devices = await b.services.federation.client.request<Json>(
      'a.test',
      'GET',
      matrixPath`/_matrix/federation/v1/user/devices/${alice.userId}`,
      undefined,
      { retry: false },
    );
    expect(devices['master_key']['usage']).toEqual(['master']);
    expect(devices['self_signing_key']['usage']).toEqual(['self_signing']);
    expect(devices['user_signing_key']).toBeUndefined();
  });
});
