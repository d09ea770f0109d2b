/**
 * MatrixHttpClient against real, scripted flaky servers on loopback: which failures are retried
 * (network errors, timeouts, 5xx, 429), how long it asks to wait (retry_after_ms and Retry-After
 * per the client-server API's "Rate limiting", else backoff with jitter), and what it throws.
 * Waits go through an injected sleep that records them: no test waits or times anything.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  MatrixError,
  MatrixHttpClient,
  type MatrixHttpClientOptions,
  TransportError,
} from '@weft/transport';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

type Step = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Hit {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

let script: Step[] = [];
let hits: Hit[] = [];
let server: Server;
let baseUrl: string;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Step =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const ok = json(200, { ok: true });
const drop: Step = (req) => req.socket.destroy();
const hang: Step = () => {
  // Never answers; the client's timeout must fire.
};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      hits.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      const step = script.shift() ?? json(599, { errcode: 'M_UNKNOWN', error: 'script exhausted' });
      step(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  script = [];
  hits = [];
});

function makeClient(options: Partial<MatrixHttpClientOptions> = {}) {
  const sleeps: number[] = [];
  const client = new MatrixHttpClient({
    baseUrl,
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 10_000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { client, sleeps };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected the request to fail');
    },
    (error: unknown) => error,
  );
}

describe('retries', () => {
  it('retries 5xx with exponential backoff and equal jitter, then returns the JSON', async () => {
    script = [json(500, { errcode: 'M_UNKNOWN', error: 'x' }), json(502, {}), ok];
    const { client, sleeps } = makeClient();
    expect(await client.get('/_matrix/client/versions')).toEqual({ ok: true });
    expect(hits).toHaveLength(3);
    // ceiling 100·2^0 = 100 → 50 + 0.5·50; ceiling 200 → 100 + 0.5·100
    expect(sleeps).toEqual([75, 150]);
  });

  it('caps the backoff at maxDelayMs', async () => {
    script = [json(500, {}), json(500, {}), json(500, {}), ok];
    const { client, sleeps } = makeClient({
      retry: { maxAttempts: 4, baseDelayMs: 400, maxDelayMs: 1000 },
      random: () => 0,
    });
    await client.get('/x');
    expect(sleeps).toEqual([200, 400, 500]);
  });

  it('waits retry_after_ms of a 429 M_LIMIT_EXCEEDED exactly', async () => {
    script = [
      json(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down', retry_after_ms: 1234 }),
      ok,
    ];
    const { client, sleeps } = makeClient();
    expect(await client.post('/_matrix/client/v3/x', {})).toEqual({ ok: true });
    expect(sleeps).toEqual([1234]);
  });

  it('honours a Retry-After header in seconds', async () => {
    script = [
      json(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'slow down' }, { 'Retry-After': '3' }),
      ok,
    ];
    const { client, sleeps } = makeClient();
    await client.get('/x');
    expect(sleeps).toEqual([3000]);
  });

  it('honours a Retry-After HTTP-date on a 503', async () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    script = [json(503, {}, { 'Retry-After': new Date(now + 7000).toUTCString() }), ok];
    const { client, sleeps } = makeClient({ now: () => now });
    await client.get('/x');
    expect(sleeps).toEqual([7000]);
  });

  it('gives up after maxAttempts and throws the last MatrixError', async () => {
    script = [json(500, {}), json(500, {}), json(503, { errcode: 'M_UNKNOWN', error: 'down' })];
    const { client, sleeps } = makeClient({ retry: { maxAttempts: 3, baseDelayMs: 10 } });
    const error = await failure(client.get('/x'));
    expect(MatrixError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ status: 503, errcode: 'M_UNKNOWN', message: 'down' });
    expect(hits).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('does not wait out a retry_after_ms above maxRetryAfterMs', async () => {
    script = [json(429, { errcode: 'M_LIMIT_EXCEEDED', error: 'later', retry_after_ms: 600_000 })];
    const { client, sleeps } = makeClient();
    const error = await failure(client.get('/x'));
    expect(MatrixError.isInstance(error) && error.retryAfterMs).toBe(600_000);
    expect(hits).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('does not retry other 4xx errors', async () => {
    script = [json(403, { errcode: 'M_FORBIDDEN', error: 'no', extra: 1 })];
    const { client, sleeps } = makeClient();
    const error = await failure(client.get('/x'));
    expect(error).toMatchObject({ status: 403, errcode: 'M_FORBIDDEN', message: 'no' });
    expect(MatrixError.isInstance(error) && error.extra).toEqual({ extra: 1 });
    expect(hits).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('retries a dropped connection (network error) and then succeeds', async () => {
    script = [drop, drop, ok];
    const { client, sleeps } = makeClient();
    expect(await client.get('/x')).toEqual({ ok: true });
    expect(hits).toHaveLength(3);
    expect(sleeps).toEqual([75, 150]);
  });

  it('throws TransportError network with the attempt count when every attempt fails', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { client, sleeps } = makeClient({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await failure(client.get('/_matrix/client/versions?access_token=secret'));
    expect(TransportError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: 'network', attempts: 4, method: 'GET' });
    expect((error as Error).message).not.toContain('secret');
    expect(sleeps).toHaveLength(3);
  });

  it('times out a hanging attempt and retries it', async () => {
    script = [hang, ok];
    const { client, sleeps } = makeClient({ timeoutMs: 150 });
    expect(await client.get('/x')).toEqual({ ok: true });
    expect(hits).toHaveLength(2);
    expect(sleeps).toEqual([75]);
  });

  it('throws TransportError timeout when every attempt hangs', async () => {
    script = [hang, hang];
    const { client } = makeClient({ timeoutMs: 100, retry: { maxAttempts: 2 } });
    const error = await failure(client.get('/x'));
    expect(error).toMatchObject({ code: 'timeout', attempts: 2 });
  });

  it('makes a single attempt with retry: false', async () => {
    script = [json(500, {})];
    const { client, sleeps } = makeClient();
    await failure(client.request({ method: 'POST', path: '/x', body: {}, retry: false }));
    expect(hits).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('stops at once when the caller aborts, also during a backoff wait', async () => {
    const controller = new AbortController();
    controller.abort();
    const { client } = makeClient();
    const early = await failure(
      client.request({ method: 'GET', path: '/x', signal: controller.signal }),
    );
    expect(early).toMatchObject({ code: 'aborted' });
    expect(hits).toHaveLength(0);

    script = [json(500, {}), ok];
    const during = new AbortController();
    const aborting = makeClient({
      sleep: async () => {
        during.abort();
        throw new Error('aborted while waiting');
      },
    });
    const error = await failure(
      aborting.client.request({ method: 'GET', path: '/x', signal: during.signal }),
    );
    expect(error).toMatchObject({ code: 'aborted', attempts: 1 });
    expect(hits).toHaveLength(1);
  });
});

describe('requests and responses', () => {
  it('sends the access token as Bearer, the query string, and canonical JSON', async () => {
    script = [ok];
    const { client } = makeClient({ accessToken: 'tok_1' });
    await client.request({
      method: 'PUT',
      path: '/_matrix/client/v3/rooms/%21r%3Ax/send/m.room.message/1',
      query: { a: 'x y', n: 3, list: ['p', 'q'], skip: undefined },
      body: { z: 1, a: { c: 'é', b: [true, null] } },
    });
    const hit = hits[0];
    expect(hit?.authorization).toBe('Bearer tok_1');
    expect(hit?.method).toBe('PUT');
    expect(hit?.url).toBe(
      '/_matrix/client/v3/rooms/%21r%3Ax/send/m.room.message/1?a=x+y&n=3&list=p&list=q',
    );
    expect(hit?.body).toBe('{"a":{"b":[true,null],"c":"é"},"z":1}');
  });

  it('sends {} for a POST without a body and nothing for a GET; no auth when asked not to', async () => {
    script = [ok, ok];
    const { client } = makeClient({ accessToken: 'tok_1' });
    await client.request({ method: 'POST', path: '/p', authenticated: false });
    await client.get('/g');
    expect(hits.map((h) => [h.method, h.body, h.authorization])).toEqual([
      ['POST', '{}', undefined],
      ['GET', '', 'Bearer tok_1'],
    ]);
  });

  it('refuses to send a body that is not canonical JSON (floats)', async () => {
    const { client } = makeClient();
    const error = await failure(client.post('/x', { n: 1.5 }));
    expect(error).toMatchObject({ code: 'bad-request' });
    expect(hits).toHaveLength(0);
  });

  it('rejects a successful response that is not a JSON object', async () => {
    script = [
      (_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>');
      },
      json(200, [1, 2]),
    ];
    const { client } = makeClient();
    expect(await failure(client.get('/x'))).toMatchObject({ code: 'bad-response' });
    expect(await failure(client.get('/x'))).toMatchObject({ code: 'bad-response' });
  });

  it('turns a non-JSON error page into MatrixError M_UNKNOWN with the HTTP status', async () => {
    script = [
      (_req, res) => {
        res.writeHead(404, { 'Content-Type': 'text/html' });
        res.end('<h1>Not Found</h1>');
      },
    ];
    const { client } = makeClient();
    expect(await failure(client.get('/x'))).toMatchObject({ status: 404, errcode: 'M_UNKNOWN' });
  });

  it('refuses a response body above maxResponseBytes', async () => {
    script = [json(200, { big: 'x'.repeat(5000) })];
    const { client } = makeClient({ maxResponseBytes: 1000 });
    expect(await failure(client.get('/x'))).toMatchObject({ code: 'bad-response' });
  });

  it('checks its arguments', () => {
    expect(() => new MatrixHttpClient({ baseUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new MatrixHttpClient({ baseUrl, retry: { maxAttempts: 0 } })).toThrow(RangeError);
    expect(() => new MatrixHttpClient({ baseUrl, timeoutMs: -1 })).toThrow(RangeError);
    const { client } = makeClient();
    return expect(client.get('relative')).rejects.toThrow(TypeError);
  });
});
