/**
 * The notary's limits (api/federation/key-query.ts, services/federation/keys/key-store.ts): a real
 * server over TLS on loopback asked by another, plus a key server `k.test` whose published
 * response and request count the test controls. The unauthenticated `/_matrix/key/v2/query` looks
 * only at valid server names (appendices "Server Name"), at most MAX_NOTARY_SERVERS of them per
 * request, and refetches a stored response no longer valid now when `minimum_valid_until_ts` is
 * not given (keys_query.yaml: "the notary server MUST use the current time").
 */
import { buildServerKeys, generateSigningKey, type JsonObject } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { MAX_NOTARY_SERVERS } from '../src/api/federation/key-query.ts';
import {
  federationRequest,
  type KeyServerPeer,
  keyServerPeer,
  startFederationWithPeer,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import type { Json } from './sync-helpers.ts';

const K = 'k.test';
const kKey = generateSigningKey();
let published: JsonObject | undefined;
let keyRequests = 0;
let keyServer: KeyServerPeer;
let federation: TestFederation;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  const keys = keyServerPeer(() => {
    keyRequests += 1;
    return published;
  });
  ({ federation, peer: keyServer } = await startFederationWithPeer(['a.test', 'b.test'], K, keys));
  a = federation.server('a.test');
  b = federation.server('b.test');
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await keyServer?.close();
});

/** A federation request from B to A; an error answer resolves to its status and errcode. */
const fromB = (method: 'GET' | 'POST', path: string, body?: unknown, authenticated?: boolean) =>
  federationRequest(b, 'a.test', method, path, body, authenticated);

describe('notary (key-query.ts, key-store.ts)', () => {
  it('refetches a stored response that expired when no minimum_valid_until_ts is given', async () => {
    const keys = a.services.federation.keys;
    const expiredAt = Date.now() - 3_600_000;
    const old = buildServerKeys({
      serverName: K,
      signingKeys: [kKey],
      validUntilTs: expiredAt,
    }) as unknown as JsonObject;
    expect(await keys.storeResponse(K, old)).toBe(true);
    const freshUntil = Date.now() + 3_600_000;
    published = buildServerKeys({
      serverName: K,
      signingKeys: [kKey],
      validUntilTs: freshUntil,
    }) as unknown as JsonObject;
    const before = keyRequests;

    const answer = await fromB('GET', `/_matrix/key/v2/query/${K}`, undefined, false);
    expect(answer.status).toBe(200);
    // The expired response was not served as it was: A asked K again and serves the new one.
    expect(keyRequests).toBe(before + 1);
    const served = answer.body['server_keys'] as Json[];
    expect(served.map((r) => r['valid_until_ts'])).toEqual([freshUntil]);
    expect(Object.keys(served[0]?.['signatures']).sort()).toEqual(['a.test', K]);
  });

  it('looks at valid server names only, at most MAX_NOTARY_SERVERS of them per request', async () => {
    const client = a.services.federation.client;
    const original = client.request.bind(client);
    const asked: string[] = [];
    const spy = vi
      .spyOn(client, 'request')
      .mockImplementation(async (destination, method, path, body, options) => {
        if (path.startsWith('/_matrix/key/v2/')) {
          asked.push(destination);
          throw new Error('unreachable');
        }
        return original(destination, method, path, body, options);
      });
    try {
      const malformed = ['not a server', 'evil.test/../x', '', 'a.test:99999999', '[::1', 'x@y'];
      const junk = Array.from({ length: MAX_NOTARY_SERVERS + 50 }, (_, i) => `junk${i}.invalid`);
      const server_keys: Record<string, unknown> = {};
      for (const name of [...malformed, ...junk]) server_keys[name] = {};
      const cachedBefore = a.services.federation.keys.cachedServerCount;

      const answer = await fromB('POST', '/_matrix/key/v2/query', { server_keys }, false);
      expect(answer.status).toBe(200);
      expect(answer.body['server_keys']).toEqual([]);
      // No fetch (nor notary question) for a malformed name; one per valid name, up to the cap.
      expect(asked.filter((name) => malformed.includes(name))).toEqual([]);
      expect(new Set(asked).size).toBe(MAX_NOTARY_SERVERS);
      // (The first names in the body as sent: the signed JSON's keys are in canonical order.)
      expect(asked.every((name) => junk.includes(name))).toBe(true);
      expect(a.services.federation.keys.cachedServerCount - cachedBefore).toBeLessThanOrEqual(
        MAX_NOTARY_SERVERS,
      );

      // The GET form: a malformed name is answered with nothing, and nothing is fetched.
      asked.length = 0;
      const one = await fromB('GET', '/_matrix/key/v2/query/bad%20name', undefined, false);
      expect(one).toEqual({ status: 200, body: { server_keys: [] } });
      expect(asked).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});
