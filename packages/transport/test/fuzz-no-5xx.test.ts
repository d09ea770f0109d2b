/**
 * Adversarial input: random bytes, random JSON, random headers and query strings sent over real
 * HTTP to every kind of endpoint never produce a 5xx: every rejection is a 4xx standard error
 * response (client-server API "Standard error response").
 */

import { createMatrixApp, MatrixError, TokenBucketRateLimiter } from '@weft/transport';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { specSigningKey } from './keys.ts';
import { listen, type TestServer } from './serve.ts';

const { key } = specSigningKey();
const app = createMatrixApp({
  maxBodyBytes: 2048,
  authenticateToken: (token) => (token === 'good' ? '@u:h' : undefined),
  rateLimiter: new TokenBucketRateLimiter({ burst: 1_000_000, perSecond: 1 }),
  federation: {
    serverName: 'dest.example',
    lookupKey: (server, keyId) =>
      server === 'origin.example' && keyId === key.keyId ? key.publicKeyBase64 : undefined,
  },
});
app
  .endpoint({
    method: 'POST',
    path: '/json',
    auth: 'none',
    handler: ({ body }) => ({ n: Object.keys(body).length }),
  })
  .endpoint({
    method: 'PUT',
    path: '/typed/:id',
    auth: 'user',
    rateLimit: true,
    parseBody: (json) => {
      if (typeof json['a'] !== 'number') throw MatrixError.badJson('a must be a number');
      return { a: json['a'] };
    },
    handler: ({ body, params }) => ({ a: body.a, id: params.id }),
  })
  .endpoint({
    method: 'PUT',
    path: '/fed/:txn',
    auth: 'server',
    handler: ({ origin }) => ({ origin }),
  })
  .endpoint({
    method: 'GET',
    path: '/fed/q',
    auth: 'server',
    handler: ({ origin }) => ({ origin }),
  });

let server: TestServer;
beforeAll(async () => {
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

const jsonValue = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null');
const body = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  jsonValue,
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    '',
    '{',
    '{"a":1e400}',
    '{"a":1}',
    '{"a":"\\ud800"}',
    '\ufeff{}',
    '[]',
    '{"a":-0}',
  ),
  fc.integer({ min: 2000, max: 4000 }).map((n) => 'x'.repeat(n)),
);
const authorization = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    'Bearer good',
    'Bearer bad',
    'Bearer',
    'X-Matrix',
    'X-Matrix origin=origin.example,key=ed25519:1,sig=AAAA',
  ),
  fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  fc
    .string({ maxLength: 60 })
    .map((s) => `X-Matrix origin="${s.replace(/[^\x21-\x7e]/g, '')}",key="ed25519:1",sig="x"`),
);
const target = fc.oneof(
  fc.constantFrom(
    '/json',
    '/typed/1',
    '/typed/%FF',
    '/fed/1',
    '/fed/q',
    '/nope',
    '/json?access_token=good&access_token=x',
  ),
  fc.webPath().map((p) => p || '/'),
);
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');

it('random requests never get a 5xx, and every error is a standard error response', async () => {
  await fc.assert(
    fc.asyncProperty(method, target, authorization, body, async (m, path, auth, payload) => {
      const headers: Record<string, string> = {};
      if (auth !== undefined) headers['Authorization'] = auth;
      const init: RequestInit = { method: m, headers };
      if (m !== 'GET' && m !== 'OPTIONS') init.body = payload;
      const response = await fetch(server.url + path, init);
      const text = await response.text();
      expect(response.status, `${m} ${path} -> ${text}`).toBeLessThan(500);
      if (response.status >= 400) {
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(typeof parsed['errcode']).toBe('string');
        expect(typeof parsed['error']).toBe('string');
      }
    }),
    { numRuns: 150 },
  );
});
