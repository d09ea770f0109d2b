/**
 * X-Matrix request authentication over real HTTP (server-server API, "Request
 * Authentication"): MatrixHttpClient signs, createMatrixApp / xMatrixMiddleware verify, and
 * every tampered part of a request is refused with 401 M_UNAUTHORIZED (403 M_FORBIDDEN for an
 * origin the server refuses).
 */

import {
  createMatrixApp,
  MatrixError,
  MatrixHttpClient,
  matrixErrorHandler,
  signRequest,
  verifyRequest,
  type XMatrixVariables,
  xMatrixMiddleware,
} from '@weft/transport';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { randomSigningKey, specSigningKey } from './keys.ts';
import { listen, readJson, type TestServer } from './serve.ts';

const ORIGIN = 'origin.example';
const DEST = 'dest.example';
const { key: originKey } = specSigningKey();
const strangerKey = randomSigningKey('2');

const KNOWN_KEYS = new Map([[`${ORIGIN} ${originKey.keyId}`, originKey.publicKeyBase64]]);
const lookupKey = async (server: string, keyId: string) => KNOWN_KEYS.get(`${server} ${keyId}`);

const federation = {
  serverName: DEST,
  lookupKey,
  isOriginAllowed: (origin: string) => origin !== 'banned.example',
};
KNOWN_KEYS.set(`banned.example ${originKey.keyId}`, originKey.publicKeyBase64);

const app = createMatrixApp({ federation });
for (const method of ['PUT', 'POST'] as const) {
  app.endpoint({
    method,
    path: '/_matrix/federation/v1/echo/:txnId',
    auth: 'server',
    handler: ({ origin, body, params, query }) => ({
      origin,
      method,
      txn: params.txnId,
      body,
      q: query.get('q'),
    }),
  });
}
app.endpoint({
  method: 'GET',
  path: '/_matrix/federation/v1/query/profile',
  auth: 'server',
  handler: ({ origin, query }) => ({ origin, user: query.get('user_id') }),
});

let server: TestServer;
beforeAll(async () => {
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

function client(origin = ORIGIN, destination = DEST, signingKey = originKey) {
  return new MatrixHttpClient({
    baseUrl: server.url,
    federation: { origin, destination, signingKey },
    retry: false,
  });
}

async function send(
  method: string,
  uri: string,
  authorization: string | undefined,
  body?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (authorization !== undefined) headers['Authorization'] = authorization;
  const response = await fetch(server.url + uri, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, body: await readJson(response) };
}

const signed = (overrides: Partial<Parameters<typeof signRequest>[0]> = {}) =>
  signRequest(
    {
      method: 'PUT',
      uri: '/_matrix/federation/v1/echo/t1?q=1',
      origin: ORIGIN,
      destination: DEST,
      content: { pdus: [], n: 1 },
      ...overrides,
    },
    originKey,
  );

describe('sign → verify round trip over HTTP', () => {
  it('a signed PUT with a body reaches the handler with the verified origin', async () => {
    const result = await client().request({
      method: 'PUT',
      path: '/_matrix/federation/v1/echo/t%2F1',
      query: { q: 'a b' },
      body: { pdus: [], origin_server_ts: 1 },
    });
    expect(result).toEqual({
      origin: ORIGIN,
      method: 'PUT',
      txn: 't/1',
      body: { pdus: [], origin_server_ts: 1 },
      q: 'a b',
    });
  });

  it('a signed GET without a body verifies (no content in the signed JSON)', async () => {
    const result = await client().get('/_matrix/federation/v1/query/profile', {
      user_id: '@alice:origin.example',
    });
    expect(result).toEqual({ origin: ORIGIN, user: '@alice:origin.example' });
  });

  it('accepts a header without destination from an older sender who signed for us', async () => {
    const header = signed().replace(`,destination="${DEST}"`, '');
    expect(header).not.toContain('destination');
    const response = await send(
      'PUT',
      '/_matrix/federation/v1/echo/t1?q=1',
      header,
      '{"pdus":[],"n":1}',
    );
    expect(response.status).toBe(200);
  });

  it('accepts the same body in another key order or spacing (the signature covers the value)', async () => {
    const response = await send(
      'PUT',
      '/_matrix/federation/v1/echo/t1?q=1',
      signed(),
      '{ "n": 1, "pdus": [ ] }',
    );
    expect(response.status).toBe(200);
  });
});

describe('tampered requests are refused with 401 M_UNAUTHORIZED', () => {
  const uri = '/_matrix/federation/v1/echo/t1?q=1';
  const body = '{"pdus":[],"n":1}';

  it('the untampered control request passes', async () => {
    expect((await send('PUT', uri, signed(), body)).status).toBe(200);
  });

  it.each([
    [
      'a changed signature',
      () => send('PUT', uri, signed().replace(/sig="[A-Za-z0-9]/, 'sig="_'), body),
    ],
    ['a changed method', () => send('POST', uri, signed(), body)],
    ['a changed path', () => send('PUT', '/_matrix/federation/v1/echo/t2?q=1', signed(), body)],
    ['a changed query', () => send('PUT', '/_matrix/federation/v1/echo/t1?q=2', signed(), body)],
    ['a changed body', () => send('PUT', uri, signed(), '{"pdus":[],"n":2}')],
    ['an added body', () => send('PUT', uri, signed({ content: undefined }), body)],
    [
      'a claimed origin that did not sign',
      () => send('PUT', uri, signed().replace(`origin="${ORIGIN}"`, 'origin="evil.example"'), body),
    ],
    [
      'a signature for another destination',
      () =>
        send(
          'PUT',
          uri,
          signed({ destination: 'other.example' }).replace('other.example', DEST),
          body,
        ),
    ],
    [
      'a header naming another destination',
      () => send('PUT', uri, signed({ destination: 'other.example' }), body),
    ],
    [
      'an unknown key',
      () =>
        send(
          'PUT',
          uri,
          signRequest(
            { method: 'PUT', uri, origin: ORIGIN, destination: DEST, content: { pdus: [], n: 1 } },
            strangerKey,
          ),
          body,
        ),
    ],
    ['no Authorization header', () => send('PUT', uri, undefined, body)],
    ['a Bearer token instead', () => send('PUT', uri, 'Bearer abc', body)],
    ['a malformed X-Matrix header', () => send('PUT', uri, 'X-Matrix origin="o",key=', body)],
    [
      'an origin that is not a server name',
      () => send('PUT', uri, signed({ origin: 'evil/../x' }), body),
    ],
  ])('%s', async (_name, attempt) => {
    const response = await attempt();
    expect(response.status).toBe(401);
    expect(response.body['errcode']).toBe('M_UNAUTHORIZED');
  });

  it('says why, without quoting the signature', async () => {
    const uriOnly = '/_matrix/federation/v1/echo/t1?q=1';
    const wrongDest = await send('PUT', uriOnly, signed({ destination: 'other.example' }), body);
    expect(wrongDest.body['error']).toBe('X-Matrix destination is not this server');
    const header = signRequest(
      {
        method: 'PUT',
        uri: uriOnly,
        origin: ORIGIN,
        destination: DEST,
        content: { pdus: [], n: 1 },
      },
      strangerKey,
    );
    const unknown = await send('PUT', uriOnly, header, body);
    expect(unknown.body['error']).toBe('Unknown signing key');
    const tampered = await send('PUT', uriOnly, signed(), '{"pdus":[],"n":3}');
    expect(tampered.body['error']).toBe('Invalid X-Matrix signature');
    expect(JSON.stringify(tampered.body)).not.toContain(/sig="([^"]+)"/.exec(signed())?.[1] ?? '-');
  });

  it('a client signing for the wrong destination gets a MatrixError 401', async () => {
    const error = await client(ORIGIN, 'other.example')
      .put('/_matrix/federation/v1/echo/t1', {})
      .catch((e: unknown) => e);
    expect(MatrixError.isInstance(error) && error.status === 401 && error.errcode).toBe(
      'M_UNAUTHORIZED',
    );
  });

  it('a valid signature from a refused origin is 403 M_FORBIDDEN', async () => {
    const error = await client('banned.example')
      .put('/_matrix/federation/v1/echo/t1', {})
      .catch((e: unknown) => e);
    expect(MatrixError.isInstance(error) && error.status === 403 && error.errcode).toBe(
      'M_FORBIDDEN',
    );
  });
});

describe('xMatrixMiddleware on a plain Hono app', () => {
  const hono = new Hono<{ Variables: XMatrixVariables }>();
  hono.onError(matrixErrorHandler());
  hono.use('/_matrix/federation/*', xMatrixMiddleware(federation));
  hono.put('/_matrix/federation/v1/send/:txnId', (c) =>
    c.json({ origin: c.get('matrixOrigin'), body: c.get('matrixBody') ?? null }),
  );
  let plain: TestServer;
  beforeAll(async () => {
    plain = await listen(hono.fetch);
  });
  afterAll(async () => {
    await plain.close();
  });

  it('admits a signed request and exposes origin and parsed body', async () => {
    const c = new MatrixHttpClient({
      baseUrl: plain.url,
      federation: { origin: ORIGIN, destination: DEST, signingKey: originKey },
      retry: false,
    });
    expect(await c.put('/_matrix/federation/v1/send/1', { edus: [] })).toEqual({
      origin: ORIGIN,
      body: { edus: [] },
    });
  });

  it('refuses an unsigned request with 401 M_UNAUTHORIZED and a refused origin with 403', async () => {
    const unsigned = await fetch(`${plain.url}/_matrix/federation/v1/send/1`, {
      method: 'PUT',
      body: '{}',
    });
    expect(unsigned.status).toBe(401);
    expect((await readJson(unsigned))['errcode']).toBe('M_UNAUTHORIZED');
    const banned = new MatrixHttpClient({
      baseUrl: plain.url,
      federation: { origin: 'banned.example', destination: DEST, signingKey: originKey },
      retry: false,
    });
    const error = await banned.put('/_matrix/federation/v1/send/1', {}).catch((e: unknown) => e);
    expect(MatrixError.isInstance(error) && error.errcode).toBe('M_FORBIDDEN');
  });
});

describe('verifyRequest', () => {
  it('passes only well-formed server names (appendices "Server Name") to the key lookup', async () => {
    const asked: string[] = [];
    const lookup = (server: string) => {
      asked.push(server);
      return undefined;
    };
    const origins = [
      'example.org',
      'example.org:8448',
      '1.2.3.4:80',
      '[1234:5678::abcd]:443',
      'ex/ample',
      'a b',
      '[zz]',
      'host:123456',
      '',
    ];
    for (const origin of origins) {
      const authorization = `X-Matrix origin="${origin}",destination="${DEST}",key="ed25519:1",sig="AAAA"`;
      await verifyRequest({ method: 'GET', uri: '/x', authorization }, DEST, lookup);
    }
    expect(asked).toEqual([
      'example.org',
      'example.org:8448',
      '1.2.3.4:80',
      '[1234:5678::abcd]:443',
    ]);
  });
});
