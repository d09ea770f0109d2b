/**
 * Federation core over real TLS on loopback (services/federation, api/federation): server keys
 * published and fetched through the notary, X-Matrix required on every federation endpoint,
 * and the TLS listener verified against the test CA.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { verifyServerKeys } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';

const execFileAsync = promisify(execFile);

let federation: TestFederation;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('server keys (key-server.ts, key-query.ts, keys/key-store.ts)', () => {
  it('publishes a self-signed key response on the TLS listener', async () => {
    const a = federation.server('a.test');
    const body = (await a.services.federation.client.request(
      'b.test',
      'GET',
      '/_matrix/key/v2/server',
      undefined,
      { authenticated: false },
    )) as Record<string, unknown>;
    const keys = verifyServerKeys(body as never, 'b.test');
    const b = federation.server('b.test');
    expect([...keys.verifyKeys.keys()]).toEqual([b.services.ctx.signingKey.keyId]);
    expect(keys.validUntilTs).toBeGreaterThan(Date.now());
  });

  it('fetches, caches and notarises another server’s keys', async () => {
    const a = federation.server('a.test');
    const b = federation.server('b.test');
    const keyId = b.services.ctx.signingKey.keyId;
    const key = await a.services.federation.keys.getKey('b.test', keyId);
    expect(key?.key).toEqual(b.services.ctx.signingKey.publicKey);
    const stored = await a.services.ctx.db.query<{ key_id: string }>(
      'SELECT key_id FROM server_keys WHERE server_name = $1',
      ['b.test'],
    );
    expect(stored.map((row) => row.key_id)).toEqual([keyId]);
    // The notary answer on A carries B's self-signature and A's own.
    const notary = await b.services.federation.client.request<{
      server_keys: Array<Record<string, unknown>>;
    }>('a.test', 'GET', '/_matrix/key/v2/query/b.test', undefined, { authenticated: false });
    const [response] = notary.server_keys;
    const signatures = response?.['signatures'] as Record<string, unknown>;
    expect(Object.keys(signatures).sort()).toEqual(['a.test', 'b.test']);
  });
});

describe('X-Matrix on federation endpoints (app.ts createFederationApp)', () => {
  it('answers an unsigned request with 401', async () => {
    // curl with the test CA: TLS verified, no Authorization header. (Asynchronously: the
    // server answering runs in this process.)
    const { stdout: out } = await execFileAsync('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      federation.ca.certFile,
      '--resolve',
      `a.test:${federation.members.get('a.test')?.federationPort}:127.0.0.1`,
      `https://a.test:${federation.members.get('a.test')?.federationPort}/_matrix/federation/v1/event/$x`,
    ]);
    expect(out).toBe('401');
  });

  it('accepts a request signed by a server whose key it can fetch', async () => {
    const b = federation.server('b.test');
    const response = await b.services.federation.client.request<{ pdus: unknown }>(
      'a.test',
      'PUT',
      '/_matrix/federation/v1/send/smoke-1',
      { origin: 'b.test', origin_server_ts: Date.now(), pdus: [], edus: [] },
    );
    expect(response).toEqual({ pdus: {} });
  });
});
