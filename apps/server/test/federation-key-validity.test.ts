/**
 * Key validity (services/federation/keys/key-store.ts; spec server-server-api "Retrieving server
 * keys", `valid_until_ts`, and room versions 5+: a key must be valid at the event's
 * `origin_server_ts`). A real server and, on loopback over TLS, a key server `k.test` whose
 * published response and request count the test controls:
 * - an event signed after its key's `valid_until_ts` finds no key (so signature checks drop it),
 *   and the refetch that decides it respects the per-server throttle;
 * - a published `valid_until_ts` is capped at 7 days into the future.
 */
import {
  buildServerKeys,
  generateSigningKey,
  type JsonObject,
  signEvent,
  verifyEvent,
} from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MAX_KEY_VALIDITY_MS } from '../src/services/federation/keys/key-store.ts';
import {
  type KeyServerPeer,
  keyServerPeer,
  startFederationWithPeer,
  type TestFederation,
} from './federation-harness.ts';

const K = 'k.test';
const key = generateSigningKey();
let published: JsonObject | undefined;
let keyRequests = 0;
let keyServer: KeyServerPeer;
let federation: TestFederation;

beforeAll(async () => {
  const keys = keyServerPeer(() => {
    keyRequests += 1;
    return published;
  });
  ({ federation, peer: keyServer } = await startFederationWithPeer(['a.test'], K, keys));
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await keyServer?.close();
});

function eventAt(ts: number): JsonObject {
  return signEvent(
    {
      auth_events: [],
      content: { body: 'hi', msgtype: 'm.text' },
      depth: 3,
      origin_server_ts: ts,
      prev_events: [],
      room_id: `!room:${K}`,
      sender: `@kim:${K}`,
      type: 'm.room.message',
    },
    '11',
    K,
    key,
  ) as JsonObject;
}

describe('server key validity (keys/key-store.ts)', () => {
  it('refuses a key for events signed after its valid_until_ts, refetching at most once per interval', async () => {
    const keys = federation.server('a.test').services.federation.keys;
    const validUntilTs = Date.now() - 3_600_000;
    published = buildServerKeys({
      serverName: K,
      signingKeys: [key],
      validUntilTs,
    }) as unknown as JsonObject;
    const now = Date.now();
    // Fetched, but not valid at `now`: no key for an event signed now.
    expect(await keys.getKey(K, key.keyId, now)).toBeUndefined();
    expect(keyRequests).toBe(1);
    // More events signed with the stale key: the refetch is throttled (no fetch per event).
    for (let i = 0; i < 3; i += 1) await keys.prefetch(K, [key.keyId], now + i);
    expect(keyRequests).toBe(1);

    // Signed before the key's validity ended: verifies; signed after it: no usable key.
    expect(verifyEvent(eventAt(validUntilTs - 1_000), '11', keys.lookup).status).toBe('valid');
    expect(verifyEvent(eventAt(now), '11', keys.lookup).status).toBe('missing-key');
    // Nor is the stale key good for an X-Matrix request made now.
    expect(await keys.requestKey(K, key.keyId)).toBeUndefined();
  });

  it('caps a published valid_until_ts at 7 days into the future', async () => {
    const { services } = federation.server('a.test');
    const keys = services.federation.keys;
    const before = Date.now();
    const response = buildServerKeys({
      serverName: K,
      signingKeys: [key],
      validUntilTs: before + 365 * 24 * 3_600_000,
    }) as unknown as JsonObject;
    expect(await keys.storeResponse(K, response)).toBe(true);
    const after = Date.now();
    const known = await keys.getKey(K, key.keyId);
    expect(known?.validUntilTs).toBeGreaterThanOrEqual(before + MAX_KEY_VALIDITY_MS);
    expect(known?.validUntilTs).toBeLessThanOrEqual(after + MAX_KEY_VALIDITY_MS);
    const row = await services.ctx.db.queryOne<{ valid_until_ts: number }>(
      'SELECT valid_until_ts FROM server_keys WHERE server_name = $1 AND key_id = $2',
      [K, key.keyId],
    );
    expect(Number(row?.valid_until_ts)).toBe(known?.validUntilTs);
    // An event claiming to be signed 8 days from now finds no key.
    const later = after + 8 * 24 * 3_600_000;
    expect(verifyEvent(eventAt(later), '11', keys.lookup).status).toBe('missing-key');
    expect(verifyEvent(eventAt(after), '11', keys.lookup).status).toBe('valid');
  });
});
