/**
 * MatrixHttpClient's `anyJsonResponses` against a real HTTP server on loopback: by default an
 * answer is read strictly (a float is a `bad-response`, as signed server-server data must be);
 * with the option a client-server answer keeps its floats (a room tag's `order` in `/sync`'s
 * account data) and its keys with escapes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { MatrixHttpClient, TransportError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ANSWER =
  '{"account_data":{"events":[{"type":"m.tag","content":{"tags":{"m.favourite":{"order":0.25}}}}]},' +
  '"k\\n":{"":0,"\\"":1}}';

let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(ANSWER);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('MatrixHttpClient answers', () => {
  it('are read strictly by default: a float is a bad-response', async () => {
    const client = new MatrixHttpClient({ baseUrl, retry: false });
    const error = await client
      .request({ method: 'GET', path: '/_matrix/client/v3/sync' })
      .catch((caught: unknown) => caught);
    expect(TransportError.isInstance(error) && error.code).toBe('bad-response');
  });

  it('keep floats and escaped keys with anyJsonResponses', async () => {
    const client = new MatrixHttpClient({ baseUrl, retry: false, anyJsonResponses: true });
    const value = await client.request({ method: 'GET', path: '/_matrix/client/v3/sync' });
    expect(value).toEqual({
      account_data: {
        events: [{ type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.25 } } } }],
      },
      'k\n': { '': 0, '"': 1 },
    });
  });
});
