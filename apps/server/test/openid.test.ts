/**
 * OpenID (services/openid, api/client/openid.ts, api/federation/openid-userinfo.ts) over real
 * HTTP and real TLS: a user gets a token from `POST /user/{userId}/openid/request_token` (only
 * for themself), a third party exchanges it at `GET /_matrix/federation/v1/openid/userinfo`
 * without any X-Matrix signature, an unknown or expired token is 401 `M_UNKNOWN_TOKEN`, and the
 * answers validate against the spec's OpenAPI schemas (client-server and server-server
 * openid.yaml).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

import { sharedDir } from '@weft/test-vectors';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { OPENID_TOKEN_LIFETIME_MS } from '../src/services/openid/service.ts';
import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import type { Json, TestUser } from './sync-helpers.ts';

const clientSpec = new ClientServerSpec();
const API_DIR = join(sharedDir, 'matrix-spec/data/api');
const readSchema = (file: string): Json => parseYaml(readFileSync(join(API_DIR, file), 'utf8'));
/** server-server openid.yaml: the 200 schema (no `$ref`s) and the 401's client-server Error. */
const userInfoSchemas = new Map<number, ValidateFunction>([
  [
    200,
    new Ajv2020({ strict: false }).compile(
      readSchema('server-server/openid.yaml')['paths']['/openid/userinfo']['get']['responses'][
        '200'
      ]['content']['application/json']['schema'],
    ),
  ],
  [
    401,
    new Ajv2020({ strict: false }).compile(
      readSchema('client-server/definitions/errors/error.yaml'),
    ),
  ],
]);

let federation: TestFederation;
let a: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  alice = await a.client.registerUser('alice');
  bob = await a.client.registerUser('bob');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

const requestTokenPath = (userId: string, prefix = 'v3') =>
  `/_matrix/client/${prefix}/user/${encodeURIComponent(userId)}/openid/request_token`;

async function requestToken(user: TestUser, userId = user.userId, body: unknown = {}) {
  const path = requestTokenPath(userId);
  const response = await a.client.request('POST', path, { token: user.accessToken, body });
  await clientSpec.expectValid('POST', path, response.status, response.body);
  return response;
}

/** `GET userinfo` on A's federation (TLS) listener, as a third party: no Authorization header. */
async function userInfo(token: string): Promise<{ status: number; body: Json }> {
  const path = `/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(token)}`;
  const port = federation.members.get('a.test')?.federationPort;
  const answer = await new Promise<{ status: number; body: Json }>((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        servername: 'a.test',
        ca: readFileSync(federation.ca.certFile),
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json,
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
  const validate = userInfoSchemas.get(answer.status);
  if (validate === undefined || !validate(answer.body)) {
    throw new Error(
      `userinfo ${answer.status} does not match openid.yaml: ${JSON.stringify(answer.body)}`,
    );
  }
  return answer;
}

describe('POST /user/{userId}/openid/request_token', () => {
  it('hands the user a bearer token for this server', async () => {
    const response = await requestToken(alice);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      matrix_server_name: 'a.test',
      expires_in: OPENID_TOKEN_LIFETIME_MS / 1000,
    });
    expect((response.body['access_token'] as string).length).toBeGreaterThanOrEqual(32);
    // Each request gets a new token; r0 serves the same.
    const again = await a.client.request('POST', requestTokenPath(alice.userId, 'r0'), {
      token: alice.accessToken,
      body: {},
    });
    expect(again.status).toBe(200);
    expect(again.body['access_token']).not.toBe(response.body['access_token']);
  });

  it('refuses another user’s ID, a bad user ID and no access token', async () => {
    const other = await requestToken(alice, bob.userId);
    expect(other.status).toBe(403);
    expect(other.body['errcode']).toBe('M_FORBIDDEN');
    const remote = await requestToken(alice, '@alice:b.test');
    expect(remote.status).toBe(403);
    const bad = await a.client.request('POST', requestTokenPath('not-a-user'), {
      token: alice.accessToken,
      body: {},
    });
    expect(bad.status).toBe(400);
    const anonymous = await a.client.request('POST', requestTokenPath(alice.userId), { body: {} });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body['errcode']).toBe('M_MISSING_TOKEN');
  });
});

describe('GET /_matrix/federation/v1/openid/userinfo', () => {
  it('names the token’s user, without X-Matrix', async () => {
    const token = (await requestToken(alice)).body['access_token'] as string;
    expect(await userInfo(token)).toEqual({ status: 200, body: { sub: alice.userId } });
    const bobs = (await requestToken(bob)).body['access_token'] as string;
    expect((await userInfo(bobs)).body).toEqual({ sub: bob.userId });
    // The token still works for its lifetime: asked twice, answered twice.
    expect((await userInfo(token)).body).toEqual({ sub: alice.userId });
  });

  it('answers another homeserver asking without a signature', async () => {
    const token = (await requestToken(alice)).body['access_token'] as string;
    const b = federation.server('b.test');
    const body = await b.services.federation.client.request(
      'a.test',
      'GET',
      '/_matrix/federation/v1/openid/userinfo',
      undefined,
      { authenticated: false, query: { access_token: token } },
    );
    expect(body).toEqual({ sub: alice.userId });
  });

  it('refuses unknown, expired and missing tokens with 401 M_UNKNOWN_TOKEN', async () => {
    const unknown = await userInfo('no-such-token');
    expect(unknown.status).toBe(401);
    expect(unknown.body['errcode']).toBe('M_UNKNOWN_TOKEN');
    const missing = await userInfo('');
    expect(missing.status).toBe(401);
    expect(missing.body['errcode']).toBe('M_UNKNOWN_TOKEN');
    // An access token is not an OpenID token.
    expect((await userInfo(alice.accessToken)).status).toBe(401);
    // Expired: the row's expiry moved into the past.
    const token = (await requestToken(alice)).body['access_token'] as string;
    await a.services.ctx.db.execute('UPDATE openid_tokens SET expires_ts = $1', [Date.now() - 1]);
    const expired = await userInfo(token);
    expect(expired.status).toBe(401);
    expect(expired.body['errcode']).toBe('M_UNKNOWN_TOKEN');
    // Issuing a new token removes the expired rows.
    await requestToken(alice);
    const rows = await a.services.ctx.db.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM openid_tokens WHERE expires_ts <= $1',
      [Date.now()],
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
