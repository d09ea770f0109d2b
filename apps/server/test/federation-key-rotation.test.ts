/**
 * Key rotation (keys/key-store.ts, keys/own-keys.ts; spec server-server-api "Retrieving server
 * keys"): a retired key listed in `federation.old_keys` is published in `old_verify_keys`, and
 * another server still verifies events signed with it before its `expired_ts` — but not after.
 */
import { generateSigningKey, type JsonObject, signEvent, verifyEvent } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';

const retired = generateSigningKey();
const expiredTs = Date.now() - 60_000;
let federation: TestFederation;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test'], {
    file: {
      federation: {
        old_keys: { [retired.keyId]: { key: retired.publicKeyBase64, expired_ts: expiredTs } },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

function eventAt(ts: number): JsonObject {
  return signEvent(
    {
      auth_events: [],
      content: { body: 'signed before the rotation', msgtype: 'm.text' },
      depth: 3,
      origin_server_ts: ts,
      prev_events: [],
      room_id: '!room:b.test',
      sender: '@bob:b.test',
      type: 'm.room.message',
    },
    '11',
    'b.test',
    retired,
  ) as JsonObject;
}

describe('key rotation', () => {
  it('publishes the retired key in old_verify_keys and keeps verifying what it signed before', async () => {
    const a = federation.server('a.test');
    const keys = a.services.federation.keys;
    const old = await keys.getKey('b.test', retired.keyId);
    expect(old?.expiredTs).toBe(expiredTs);
    expect(old?.key).toEqual(retired.publicKey);
    // The current key is still B's signing key.
    const current = await keys.getKey(
      'b.test',
      federation.server('b.test').services.ctx.signingKey.keyId,
    );
    expect(current?.expiredTs).toBeUndefined();

    expect(verifyEvent(eventAt(expiredTs - 1_000), '11', keys.lookup).status).toBe('valid');
    // Signed with the old key after it expired: the key is ignored, so no signature verifies.
    expect(verifyEvent(eventAt(expiredTs + 1_000), '11', keys.lookup).status).toBe('missing-key');
  });

  it('does not accept the retired key for X-Matrix requests made now', async () => {
    const keys = federation.server('a.test').services.federation.keys;
    expect(await keys.requestKey('b.test', retired.keyId)).toBeUndefined();
  });
});
