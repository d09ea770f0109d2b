/**
 * Cross-signing with a real client: matrix-js-sdk 43's Rust crypto (vodozemac) bootstraps
 * cross-signing against a Weft server (`/keys/device_signing/upload`, then its device signature
 * through `/keys/signatures/upload`), sees its own device as cross-signed from what `/keys/query`
 * returns, and a second SDK user finds the first user's cross-signing keys.
 */
import type { MatrixClient } from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { bootstrapCrossSigning, startSdkClient } from './js-sdk.ts';
import { call, type Json } from './sync-helpers.ts';

const PASSWORD = 'correct horse battery staple';

let server: TestServer;
const sdks: MatrixClient[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const sdk of sdks) sdk.stopClient();
  await server.stop();
});

async function sdkUser(name: string): Promise<MatrixClient> {
  const user = await server.client.registerUser(name, PASSWORD);
  const sdk = await startSdkClient(server.url, user, { crypto: true });
  sdks.push(sdk);
  return sdk;
}

describe('cross-signing with matrix-js-sdk (Rust crypto)', () => {
  it('bootstraps cross-signing, and another user sees the keys', async () => {
    const alice = await sdkUser('alice');
    const aliceId = alice.getUserId() ?? '';
    const crypto = await bootstrapCrossSigning(alice, aliceId, PASSWORD);
    const status = await crypto.getCrossSigningStatus();
    expect(status.publicKeysOnDevice).toBe(true);
    expect(status.privateKeysCachedLocally).toEqual({
      masterKey: true,
      selfSigningKey: true,
      userSigningKey: true,
    });

    // What the server stored: the three keys, and alice's device signed by her self-signing key.
    const token = alice.getAccessToken() ?? '';
    const own: Json = await call(
      server,
      { userId: aliceId, accessToken: token, deviceId: alice.getDeviceId() ?? '' },
      'POST',
      '/_matrix/client/v3/keys/query',
      { device_keys: { [aliceId]: [] } },
    );
    const master = own['master_keys'][aliceId];
    const selfSigning = own['self_signing_keys'][aliceId];
    expect(master['usage']).toEqual(['master']);
    expect(own['user_signing_keys'][aliceId]['usage']).toEqual(['user_signing']);
    const selfKeyId = Object.keys(selfSigning['keys'])[0];
    const device = own['device_keys'][aliceId][alice.getDeviceId() ?? ''];
    expect(Object.keys(device['signatures'][aliceId])).toContain(selfKeyId);

    // The SDK trusts its own device through the cross-signing chain the server returned.
    const verification = await crypto.getDeviceVerificationStatus(
      aliceId,
      alice.getDeviceId() ?? '',
    );
    expect(verification?.signedByOwner).toBe(true);
    expect(await crypto.isCrossSigningReady()).toBe(true);

    // Another user's SDK downloads alice's cross-signing keys from /keys/query.
    const bob = await sdkUser('bob');
    expect(await bob.getCrypto()?.userHasCrossSigningKeys(aliceId, true)).toBe(true);
    const identity = await bob.getCrypto()?.getUserVerificationStatus(aliceId);
    expect(identity?.isVerified()).toBe(false);
  }, 120_000);
});
