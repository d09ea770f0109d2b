/**
 * MatrixHttpClient's `readBody` (a 2xx body read as it arrives) against a real HTTP server on
 * loopback: the reader gets the chunks while the server is still writing, its value is the
 * request's; an error answer still comes back as a MatrixError; past `maxResponseBytes` the
 * chunks stop with `bad-response`; a reader that refuses the body is a `bad-response` too, and
 * none of these is retried.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { MatrixError, MatrixHttpClient, TransportError } from '@weft/transport';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

let hits = 0;
let server: Server;
let baseUrl: string;
/** What the server does with the next request. */
let respond: (res: ServerResponse) => void = (res) => res.end('{}');

beforeAll(async () => {
  server = createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => respond(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hits = 0;
});

const decoder = new TextDecoder();

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += decoder.decode(chunk, { stream: true });
  return text;
}

describe('MatrixHttpClient readBody', () => {
  it('hands the chunks over while the server still writes, and returns the reader’s value', async () => {
    // The second half is written only once the reader has seen the first: a client that
    // waited for the whole body would never finish.
    let firstSeen: () => void = () => undefined;
    const seen = new Promise<void>((resolve) => {
      firstSeen = resolve;
    });
    respond = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"half":');
      void seen.then(() => res.end('"done"}'));
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000 });
    let contentType: string | null = null;
    const value = await client.request({
      method: 'GET',
      path: '/_matrix/x',
      readBody: async (chunks, headers) => {
        contentType = headers.get('content-type');
        let text = '';
        for await (const chunk of chunks) {
          text += decoder.decode(chunk, { stream: true });
          if (text.includes('{"half":')) firstSeen();
        }
        return JSON.parse(text) as Record<string, unknown>;
      },
    });
    expect(value).toEqual({ half: 'done' });
    // The reader is handed the answer's headers as well.
    expect(contentType).toBe('application/json');
  });

  it('answers an error status with the MatrixError, without calling the reader', async () => {
    respond = (res) => {
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end('{"errcode":"M_FORBIDDEN","error":"no"}');
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000 });
    let called = false;
    const error = await client
      .request({
        method: 'GET',
        path: '/_matrix/x',
        readBody: async () => {
          called = true;
          return {};
        },
      })
      .catch((e: unknown) => e);
    expect(MatrixError.isInstance(error) && error.errcode).toBe('M_FORBIDDEN');
    expect(called).toBe(false);
  });

  it('stops past maxResponseBytes with bad-response, and does not retry', async () => {
    respond = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let i = 0; i < 8; i++) res.write('x'.repeat(1024));
      res.end();
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000, maxResponseBytes: 4096 });
    const error = await client
      .request({
        method: 'GET',
        path: '/_matrix/x',
        readBody: async (c) => ({ t: await readAll(c) }),
      })
      .catch((e: unknown) => e);
    expect(TransportError.isInstance(error) && error.code).toBe('bad-response');
    expect(String(error)).toMatch(/too large/);
    expect(hits).toBe(1);
  });

  it('refuses a declared Content-Length past maxResponseBytes before the reader sees a byte', async () => {
    respond = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 8192 });
      res.end('x'.repeat(8192));
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000, maxResponseBytes: 4096 });
    let called = false;
    const error = await client
      .request({
        method: 'GET',
        path: '/_matrix/x',
        readBody: async (c) => {
          called = true;
          return { t: await readAll(c) };
        },
      })
      .catch((e: unknown) => e);
    expect(TransportError.isInstance(error) && error.code).toBe('bad-response');
    expect(String(error)).toMatch(/too large/);
    expect(called).toBe(false);
    expect(hits).toBe(1);
  });

  it('names a body cut off by the caller’s abort `aborted`, not a network failure', async () => {
    respond = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"half":');
      // The rest never comes: only the abort ends the read.
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000 });
    const controller = new AbortController();
    const error = await client
      .request({
        method: 'GET',
        path: '/_matrix/x',
        signal: controller.signal,
        readBody: async (chunks) => {
          for await (const _chunk of chunks) controller.abort();
          return {};
        },
      })
      .catch((e: unknown) => e);
    expect(TransportError.isInstance(error) && error.code).toBe('aborted');
    expect(hits).toBe(1);
  });

  it('turns a reader that refuses the body into bad-response, not retried', async () => {
    respond = (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"a":');
    };
    const client = new MatrixHttpClient({ baseUrl, timeoutMs: 5_000 });
    const error = await client
      .request({
        method: 'GET',
        path: '/_matrix/x',
        readBody: async (chunks) => JSON.parse(await readAll(chunks)) as Record<string, unknown>,
      })
      .catch((e: unknown) => e);
    expect(TransportError.isInstance(error) && error.code).toBe('bad-response');
    expect(hits).toBe(1);
  });
});
