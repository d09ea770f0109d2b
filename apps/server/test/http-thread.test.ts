/**
 * The HTTP thread (src/http-worker.cts with its main-thread side src/http-thread.ts): requests
 * cross to the main thread whole, answers come back framed, oversized bodies are refused on
 * the thread, a client that leaves is reported, a port in use fails the start, and `close`
 * lets an answer in flight out before the thread ends.
 */

import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import {
  type BridgedRequest,
  type HttpThread,
  type HttpThreadOptions,
  startHttpThread,
} from '../src/http-thread.ts';
import { registerUsers, startTestServer } from './harness.ts';

const OPTIONS: HttpThreadOptions = {
  host: '127.0.0.1',
  port: 0,
  maxBodyBytes: 1024,
  tooLarge: {
    status: 413,
    headers: { 'Content-Type': 'application/json' },
    body: '{"errcode":"M_TOO_LARGE"}',
  },
};

/** Requests as the handler sees them, in order. */
let seen: BridgedRequest[] = [];
let thread: HttpThread | undefined;
let exits: unknown[] = [];

async function start(handle: (request: BridgedRequest) => void = () => {}): Promise<string> {
  thread = await startHttpThread(
    OPTIONS,
    (request) => {
      seen.push(request);
      handle(request);
    },
    (error) => exits.push(error),
  );
  return `http://127.0.0.1:${thread.port}`;
}

afterEach(async () => {
  await thread?.close();
  thread = undefined;
  seen = [];
  expect(exits).toEqual([]);
  exits = [];
});

/** Writes `head` and `body` on a raw connection and returns everything the server sent back. */
function raw(url: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

describe('the HTTP thread', () => {
  it('hands over a request whole and writes its answer framed', async () => {
    const url = await start((request) =>
      request.respond({
        status: 201,
        headers: [
          ['Content-Type', 'application/json'],
          ['Content-Length', '999'],
          ['X-Echo', new TextDecoder().decode(request.body)],
        ],
        body: new TextEncoder().encode('{"ok":"ü"}'),
      }),
    );
    const response = await fetch(`${url}/some/path?a=1&b=%20`, {
      method: 'PUT',
      headers: { 'X-Twice': 'one', Authorization: 'Bearer abc' },
      body: 'hello',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('hello');
    // The thread frames the body itself: the handler's Content-Length is replaced.
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength('{"ok":"ü"}')));
    expect(await response.json()).toEqual({ ok: 'ü' });
    const [request] = seen;
    expect(request?.method).toBe('PUT');
    expect(request?.url).toBe('/some/path?a=1&b=%20');
    expect(request?.rawHeaders).toEqual(
      expect.arrayContaining(['X-Twice', 'one', 'Authorization', 'Bearer abc']),
    );
    // A GET carries no body; a string answer is framed by its UTF-8 length.
    await thread?.close();
    const again = await start((request) =>
      request.respond({ status: 200, headers: {}, body: 'é' }),
    );
    const get = await fetch(`${again}/x`);
    expect(await get.text()).toBe('é');
    expect(get.headers.get('content-length')).toBe('2');
    expect(seen.at(-1)?.body).toBeUndefined();
  });

  it('keeps repeated headers and answers pipelined requests in order', async () => {
    const url = await start((request) => {
      // The first request is answered last.
      const delay = request.url === '/first' ? 30 : 0;
      setTimeout(() => request.respond({ status: 200, headers: {}, body: request.url }), delay);
    });
    const answer = await raw(
      url,
      'GET /first HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\n\r\n' +
        'GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(answer.indexOf('/first')).toBeGreaterThan(-1);
    expect(answer.indexOf('/first')).toBeLessThan(answer.indexOf('/second'));
    expect(seen[0]?.rawHeaders).toEqual(['Host', 'x', 'X-A', '1', 'X-A', '2']);
  });

  it('refuses a body over the limit without handing it over, declared or streamed', async () => {
    const url = await start((request) => request.respond({ status: 200, headers: {}, body: '' }));
    const declared = await fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(1025) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ errcode: 'M_TOO_LARGE' });
    // Chunked, so no length is declared: cut off once it passes the limit.
    const streamed = await raw(
      url,
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        `400\r\n${'y'.repeat(1024)}\r\n1\r\nz\r\n0\r\n\r\n`,
    );
    expect(streamed).toMatch(/^HTTP\/1\.1 413 /);
    expect(seen).toEqual([]);
    // At the limit it goes through.
    const fits = await fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(fits.status).toBe(200);
    expect(seen[0]?.body?.byteLength).toBe(1024);
  });

  it('tells the main thread when a client leaves before its answer', async () => {
    const url = await start((request) => {
      if (request.url === '/next') request.respond({ status: 200, headers: {}, body: 'next' });
    });
    const controller = new AbortController();
    const pending = fetch(`${url}/sync`, { signal: controller.signal }).catch(
      (error: unknown) => error,
    );
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const [request] = seen as [BridgedRequest];
    let heard = 0;
    request.client.onGone(() => heard++);
    const stopped = request.client.onGone(() => heard++);
    stopped();
    expect(request.client.gone()).toBe(false);
    controller.abort();
    await pending;
    while (!request.client.gone()) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(heard).toBe(1);
    // An answer for a client that left goes nowhere, and breaks nothing.
    request.respond({ status: 200, headers: {}, body: 'late' });
    expect(await (await fetch(`${url}/next`)).text()).toBe('next');
  });

  it('fails to start on a port in use, with the listen error', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      await expect(
        startHttpThread(
          { ...OPTIONS, port },
          () => {},
          (error) => exits.push(error),
        ),
      ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('lets an answer in flight out on close, and then accepts nothing', async () => {
    const url = await start();
    const pending = fetch(`${url}/slow`);
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const closing = thread?.close();
    let closed = false;
    void closing?.then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(closed).toBe(false);
    seen[0]?.respond({ status: 200, headers: {}, body: 'done' });
    const response = await pending;
    expect(await response.text()).toBe('done');
    expect(response.headers.get('connection')).toBe('close');
    await closing;
    await expect(fetch(`${url}/after`)).rejects.toThrow();
    thread = undefined;
  });
});

describe('requests through the server', () => {
  it('answers a target or Host that makes no URL with a Matrix 400, not a 5xx', async () => {
    const server = await startTestServer();
    try {
      for (const head of [
        'GET /_matrix/client/versions HTTP/1.1\r\nHost: [::1\r\n',
        'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n',
      ]) {
        const answer = await raw(server.url, `${head}Connection: close\r\n\r\n`);
        expect(answer, head).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer, head).toContain('"errcode":"M_UNRECOGNIZED"');
      }
      // Without a Host header (HTTP/1.0) the listen address stands in.
      const versions = await raw(server.url, 'GET /_matrix/client/versions HTTP/1.0\r\n\r\n');
      expect(versions).toMatch(/^HTTP\/1\.1 200 /);
      expect(versions).toContain('"versions"');
    } finally {
      await server.stop();
    }
  });

  it('stops a long-poll the app answers once its client goes', async () => {
    const server = await startTestServer();
    try {
      const [alice] = await registerUsers(server, ['alice']);
      const token = alice?.accessToken ?? '';
      const first = await fetch(`${server.url}/_matrix/client/v3/sync?timeout=0`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      const since = String(((await first.json()) as Record<string, unknown>)['next_batch']);
      const notifier = server.services.ctx.notifier;
      const before = notifier.waiting;
      const controller = new AbortController();
      // A token in the query is the app's to answer (the fast path reads headers only).
      const query = new URLSearchParams({ since, timeout: '60000', access_token: token });
      const pending = fetch(`${server.url}/_matrix/client/v3/sync?${query}`, {
        signal: controller.signal,
      }).catch((error: unknown) => error);
      while (notifier.waiting === before) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.abort();
      await pending;
      while (notifier.waiting > before) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(notifier.waiting).toBe(before);
    } finally {
      await server.stop();
    }
  });
});
