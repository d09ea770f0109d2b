/**
 * `npm run bench -w packages/transport`
 *
 * What the HTTP layer costs per request, in process (`app.fetch`, no sockets, so the figures
 * are the layer's own work):
 * - a JSON PUT through `createMatrixApp` (CORS, routing, Bearer lookup, rate limit, size-limited
 *   strict JSON parse, handler) against the same route in plain Hono with `c.req.json()` (the
 *   floor: no checks at all);
 * - X-Matrix: parsing a header (against a naive regex split, which ignores the spec's quoting
 *   rules), and a signed federation request verified end to end;
 * - the token-bucket limiter.
 */
import { measure, measureAsync, printComparison } from '@weft/bench';
import { generateSigningKey } from '@weft/signing';
import { Hono } from 'hono';

import {
  createMatrixApp,
  parseXMatrixHeader,
  signRequest,
  TokenBucketRateLimiter,
  verifyRequest,
} from '../src/index.ts';

const millis = Number(process.env['BENCH_MILLIS'] ?? 1500);
const body = JSON.stringify({
  msgtype: 'm.text',
  body: 'Hello, world! '.repeat(8),
  'm.relates_to': { 'm.in_reply_to': { event_id: '$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG' } },
});

const matrixApp = createMatrixApp<string>({
  authenticateToken: (token) => (token === 'tok' ? '@alice:example.org' : undefined),
  rateLimiter: new TokenBucketRateLimiter({ burst: 1e12, perSecond: 1e12 }),
}).endpoint({
  method: 'PUT',
  path: '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId',
  auth: 'user',
  rateLimit: true,
  handler: ({ params, body: content }) => ({
    event_id: `$${params.txnId}`,
    n: Object.keys(content).length,
  }),
});

const plain = new Hono();
plain.put('/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId', async (c) => {
  const content = (await c.req.json()) as Record<string, unknown>;
  return c.json({ event_id: `$${c.req.param('txnId')}`, n: Object.keys(content).length });
});

const url = 'http://localhost/_matrix/client/v3/rooms/%21r%3Aexample.org/send/m.room.message/t1';
const request = () =>
  new Request(url, { method: 'PUT', headers: { Authorization: 'Bearer tok' }, body });

// Same answer from both before timing anything.
const a = await (await matrixApp.fetch(request())).text();
const b = await (await plain.fetch(request())).text();
if (a !== b) throw new Error(`apps disagree: ${a} vs ${b}`);

printComparison(
  'JSON PUT through the app (requests/s)',
  await measureAsync(
    'weft createMatrixApp',
    async () => (await matrixApp.fetch(request())).text(),
    millis,
  ),
  [
    await measureAsync(
      'plain hono + c.req.json()',
      async () => (await plain.fetch(request())).text(),
      millis,
    ),
  ],
);

const key = generateSigningKey('bench');
const xRequest = {
  method: 'PUT',
  uri: '/_matrix/federation/v1/send/1700000000000',
  origin: 'origin.example',
  destination: 'dest.example',
  content: { origin: 'origin.example', origin_server_ts: 1700000000000, pdus: [], edus: [] },
};
const header = signRequest(xRequest, key);

function naiveParse(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.slice('X-Matrix '.length).split(',')) {
    const eq = part.indexOf('=');
    out[part.slice(0, eq)] = part.slice(eq + 1).replace(/^"|"$/g, '');
  }
  return out;
}
if (naiveParse(header)['sig'] !== parseXMatrixHeader(header).sig)
  throw new Error('parsers disagree');

printComparison(
  'X-Matrix header parse (headers/s)',
  measure('weft parseXMatrixHeader', () => parseXMatrixHeader(header), millis),
  [measure('naive split (no quoting rules)', () => naiveParse(header), millis)],
);

const lookup = () => key.publicKeyBase64;
printComparison(
  'X-Matrix signing (requests/s)',
  measure('weft signRequest', () => signRequest(xRequest, key), millis),
  [],
);
printComparison(
  'X-Matrix verification (requests/s)',
  await measureAsync(
    'weft verifyRequest',
    () =>
      verifyRequest(
        { method: 'PUT', uri: xRequest.uri, authorization: header, content: xRequest.content },
        'dest.example',
        lookup,
      ),
    millis,
  ),
  [],
);

const limiter = new TokenBucketRateLimiter({ burst: 1e12, perSecond: 1 });
let i = 0;
printComparison(
  'rate limiter (decisions/s, 1000 keys)',
  measure('weft TokenBucketRateLimiter.take', () => limiter.take(`@u${i++ % 1000}:h`), millis),
  [],
);
