/**
 * X-Matrix verifies the request target as received (server-server API "Request
 * Authentication": `uri` is "the full request path, including query parameters"): a sender that
 * signed a raw target with characters URL parsing would percent-encode (`"`, `<`, `>`, `{`, `}`,
 * `'`, `^`, `` ` ``) or dot segments is accepted — through `MatrixApp.answer` (what the server
 * uses), through the Hono route over real HTTP, and through `xMatrixMiddleware`.
 */
import { request as httpRequest } from 'node:http';

import {
  createMatrixApp,
  matrixErrorHandler,
  signRequest,
  type XMatrixVariables,
  xMatrixMiddleware,
} from '@weft/transport';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { specSigningKey } from './keys.ts';
import { listen, type TestServer } from './serve.ts';

const ORIGIN = 'origin.example';
const DEST = 'dest.example';
const { key } = specSigningKey();
const lookupKey = async (server: string, keyId: string) =>
  server === ORIGIN && keyId === key.keyId ? key.publicKeyBase64 : undefined;
const federation = { serverName: DEST, lookupKey };

const app = createMatrixApp({ federation });
app.endpoint({
  method: 'GET',
  path: '/_matrix/federation/v1/query/profile',
  auth: 'server',
  handler: ({ origin, query }) => ({ origin, field: query.get('field') }),
});

const middlewareApp = new Hono<{ Variables: XMatrixVariables }>();
middlewareApp.onError(matrixErrorHandler());
middlewareApp.use('/_matrix/federation/*', xMatrixMiddleware(federation));
middlewareApp.get('/_matrix/federation/v1/query/profile', (c) =>
  c.json({ origin: c.get('matrixOrigin') }),
);

/** Targets whose path and query URL parsing would change. */
const TARGETS = [
  `/_matrix/federation/v1/query/profile?user_id=@a:b.example&field={"x"}<'y'>^\``,
  '/_matrix/federation/v1/./query/profile?user_id=@a:b.example&field=dot',
];

function authorization(target: string): string {
  return signRequest({ method: 'GET', uri: target, origin: ORIGIN, destination: DEST }, key);
}

/** A GET with `target` sent byte for byte (fetch would normalise it). */
function rawGet(url: string, target: string, auth: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/`, {
      method: 'GET',
      path: target,
      headers: { authorization: auth },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

let appServer: TestServer;
let middlewareServer: TestServer;
beforeAll(async () => {
  appServer = await listen(app.fetch);
  middlewareServer = await listen(middlewareApp.fetch);
});
afterAll(async () => {
  await appServer.close();
  await middlewareServer.close();
});

describe('X-Matrix over the raw request target', () => {
  it('accepts a signature over the raw target in MatrixApp.answer', async () => {
    for (const target of TARGETS) {
      const answer = await app.answer({
        method: 'GET',
        target,
        rawHeaders: ['Authorization', authorization(target), 'Host', DEST],
      });
      expect(answer.status).toBe(200);
      // A signature over the target as URL parsing rewrites it does not cover what was sent.
      const url = new URL(`http://x${target}`);
      const normalised = await app.answer({
        method: 'GET',
        target,
        rawHeaders: ['Authorization', authorization(url.pathname + url.search), 'Host', DEST],
      });
      expect(normalised.status).toBe(401);
    }
  });

  it('accepts it over HTTP through the app and through xMatrixMiddleware', async () => {
    for (const target of TARGETS) {
      expect(await rawGet(appServer.url, target, authorization(target))).toBe(200);
      expect(await rawGet(middlewareServer.url, target, authorization(target))).toBe(200);
    }
  });
});
