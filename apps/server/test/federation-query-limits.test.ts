/**
 * What `user/keys/query`, `user/keys/claim` and `query/profile` answer another server
 * (services/federation/queries/serve-queries.ts), over TLS on loopback: malformed user IDs are
 * left out (never a 500), a claim takes keys for at most MAX_CLAIM_DEVICES devices, and any
 * profile field name is answered (query.yaml), 404 `M_NOT_FOUND` for one not set.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { MAX_CLAIM_DEVICES } from '../src/services/federation/queries/serve-queries.ts';
import { federationRequest, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

/** A federation request from B to A; an error answer resolves to its status and errcode. */
const fromB = (method: 'GET' | 'POST', path: string, body?: unknown, authenticated?: boolean) =>
  federationRequest(b, 'a.test', method, path, body, authenticated);

describe('user keys and profile queries (serve-queries.ts)', () => {
  it('leaves malformed user IDs out of user/keys/query and user/keys/claim (no 500)', async () => {
    const alice = await a.client.registerUser('alice');
    const query = await fromB('POST', '/_matrix/federation/v1/user/keys/query', {
      device_keys: { nocolon: [], '@bad:not a server': [], [alice.userId]: [] },
    });
    expect(query.status).toBe(200);
    expect(Object.keys(query.body['device_keys'])).toEqual([alice.userId]);
    const claim = await fromB('POST', '/_matrix/federation/v1/user/keys/claim', {
      one_time_keys: { nocolon: { DEV: 'signed_curve25519' } },
    });
    expect(claim).toEqual({ status: 200, body: { one_time_keys: {} } });
  });

  it('claims keys for at most MAX_CLAIM_DEVICES devices per request', async () => {
    const e2eKeys = a.services.e2eKeys;
    const original = e2eKeys.claim.bind(e2eKeys);
    let claimed = 0;
    const spy = vi.spyOn(e2eKeys, 'claim').mockImplementation((requested) => {
      for (const devices of requested.values()) claimed += devices.size;
      return original(requested);
    });
    try {
      const devices: Record<string, string> = {};
      for (let i = 0; i < MAX_CLAIM_DEVICES + 500; i += 1) devices[`D${i}`] = 'signed_curve25519';
      const answer = await fromB('POST', '/_matrix/federation/v1/user/keys/claim', {
        one_time_keys: { '@alice:a.test': devices, '@carol:a.test': { C1: 'signed_curve25519' } },
      });
      expect(answer.status).toBe(200);
      expect(claimed).toBe(MAX_CLAIM_DEVICES);
    } finally {
      spy.mockRestore();
    }
  });

  it('answers any profile field: the value when set, 404 M_NOT_FOUND when not', async () => {
    const dora = await a.client.registerUser('dora');
    await a.client.request('PUT', `/_matrix/client/v3/profile/${dora.userId}/displayname`, {
      token: dora.accessToken,
      body: { displayname: 'Dora' },
    });
    const path = (field: string) =>
      `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(dora.userId)}&field=${encodeURIComponent(field)}`;
    expect(await fromB('GET', path('displayname'))).toEqual({
      status: 200,
      body: { displayname: 'Dora' },
    });
    for (const field of ['m.tz', 'org.example.custom', 'avatar_url']) {
      expect(await fromB('GET', path(field))).toEqual({
        status: 404,
        body: { errcode: 'M_NOT_FOUND' },
      });
    }
  });
});
