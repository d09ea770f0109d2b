/**
 * The HTTP thread (src/http-worker.cts with its main-thread side src/http-thread.ts): requests
 * cross to the main thread whole, answers come back framed, oversized bodies are refused on
 * the thread, a client that leaves is reported, a port in use fails the start, and `close`
 * lets an answer in flight out before the thread ends.
 */

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import {
  type BridgedRequest,
  type HttpThread,
  type HttpThreadOptions,
  startHttpThread,
} from '../src/http-thread.ts';
import { registerUsers, startTestServer } from './harness.ts';
import { openRawConnection } from './raw-connection.ts';

const OPTIONS: HttpThreadOptions = {
  host: '127.0.0.1',
  port: 0,
  maxBodyBytes: 1024,
  maxUploadBytes: 4096,
  uploadPath: '^/upload-big$',
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
    { exited: (error) => exits.push(error), failed: (error) => exits.push(error) },
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

/** Writes `text` on a raw connection and returns everything the server sent back. */
async function raw(url: string, text: string): Promise<string> {
  return (await openRawConnection(Number(new URL(url).port), text)).ended;
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

  it('writes answers given in one turn, also when they share one byte buffer', async () => {
    // Answers of one turn of the main thread go over in one message; one buffer handed over for
    // two of them must reach both (listed twice for transfer, the whole message would fail).
    const shared = new TextEncoder().encode('shared bytes');
    const held: BridgedRequest[] = [];
    const url = await start((request) => {
      held.push(request);
      if (held.length < 3) return;
      for (const each of held) {
        each.respond({
          status: 200,
          headers: {},
          body: each.url === '/text' ? 'text body' : shared,
        });
      }
    });
    const answers = await Promise.all(
      ['/a', '/b', '/text'].map((path) => fetch(`${url}${path}`).then((answer) => answer.text())),
    );
    expect(answers).toEqual(['shared bytes', 'shared bytes', 'text body']);
  });

  it('answers 500 for an answer it cannot hand over, and still writes the others of its turn', async () => {
    // Answered once, the buffer goes to the HTTP thread; the same bytes in a later turn cannot
    // be handed over or copied. That answer becomes a 500; the one beside it goes out.
    const bytes = new TextEncoder().encode('once');
    const held: BridgedRequest[] = [];
    const url = await start((request) => {
      if (request.url === '/first') {
        request.respond({ status: 200, headers: {}, body: bytes });
        return;
      }
      held.push(request);
      if (held.length < 2) return;
      for (const each of held) {
        each.respond({ status: 200, headers: {}, body: each.url === '/again' ? bytes : 'fine' });
      }
    });
    expect(await (await fetch(`${url}/first`)).text()).toBe('once');
    const [again, other] = await Promise.all(
      ['/again', '/other'].map((path) => fetch(`${url}${path}`)),
    );
    expect(again?.status).toBe(500);
    expect(await other?.text()).toBe('fine');
    // The failure was reported, once.
    expect(exits).toHaveLength(1);
    exits = [];
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
    // At the limit it goes through; the upload path has its own, larger one.
    const fits = await fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(1024) });
    expect(fits.status).toBe(200);
    expect(seen[0]?.body?.byteLength).toBe(1024);
    const big = await fetch(`${url}/upload-big?x=1`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t' },
      body: 'x'.repeat(4096),
    });
    expect(big.status).toBe(200);
    expect(seen[1]?.body?.byteLength).toBe(4096);
    const tooBig = await fetch(`${url}/upload-big`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t' },
      body: 'x'.repeat(4097),
    });
    expect(tooBig.status).toBe(413);
    expect(seen).toHaveLength(2);
  });

  it('frames no body for 204 and HEAD answers', async () => {
    const url = await start((request) =>
      request.respond(
        request.url === '/empty'
          ? { status: 204, headers: { 'X-A': '1' }, body: '' }
          : { status: 200, headers: { 'Content-Length': '7' }, body: 'ignored' },
      ),
    );
    const empty = await raw(url, 'OPTIONS /empty HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(empty).toMatch(/^HTTP\/1\.1 204 /);
    expect(empty.toLowerCase()).not.toContain('content-length');
    // HEAD: the app's own length is kept, and no body follows the head.
    const head = await raw(url, 'HEAD /thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head.toLowerCase()).toContain('content-length: 7');
    expect(head.endsWith('\r\n\r\n')).toBe(true);
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
    // Answering a client that left is a no-op, and the thread goes on serving.
    request.respond({ status: 200, headers: {}, body: 'late' });
    expect(await (await fetch(`${url}/next`)).text()).toBe('next');
  });

  it('fails to start on a port in use, with the listen error', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      await expect(
        startHttpThread({ ...OPTIONS, port }, () => {}, {
          exited: (error) => exits.push(error),
          failed: (error) => exits.push(error),
        }),
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
  it('routes by the target alone: a Host cannot change the path, a backslash is refused', async () => {
    const server = await startTestServer();
    try {
      // Built on the Host, this URL's path would be /_matrix/client/v3/account/whoami.
      const hosted = await raw(
        server.url,
        'GET /_matrix/client/versions HTTP/1.1\r\nHost: x/_matrix/client/v3/account/whoami?\r\n' +
          'Connection: close\r\n\r\n',
      );
      expect(hosted).toMatch(/^HTTP\/1\.1 200 /);
      expect(hosted).toContain('"versions"');
      for (const target of ['/_matrix\\client/versions', '*']) {
        const answer = await raw(
          server.url,
          `OPTIONS ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
        );
        expect(answer, target).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer, target).toContain('"errcode":"M_UNRECOGNIZED"');
      }
      // Without a Host header (HTTP/1.0) it is answered all the same.
      const versions = await raw(server.url, 'GET /_matrix/client/versions HTTP/1.0\r\n\r\n');
      expect(versions).toMatch(/^HTTP\/1\.1 200 /);
      expect(versions).toContain('"versions"');
    } finally {
      await server.stop();
    }
  });

  it('gives the app each body whole, framed by a length or chunked', async () => {
    const server = await startTestServer();
    try {
      const [alice] = await registerUsers(server, ['alice']);
      const token = alice?.accessToken ?? '';
      const path = `/_matrix/client/v3/user/${encodeURIComponent(alice?.userId ?? '')}/filter`;
      const filters = [{ room: { timeline: { limit: 7 } } }, { room: { timeline: { limit: 9 } } }];
      const framed = JSON.stringify(filters[0]);
      const chunked = JSON.stringify(filters[1]);
      const answers = [
        await raw(
          server.url,
          `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
            `Content-Length: ${Buffer.byteLength(framed)}\r\nConnection: close\r\n\r\n${framed}`,
        ),
        await raw(
          server.url,
          `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
            'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
            `5\r\n${chunked.slice(0, 5)}\r\n` +
            `${(chunked.length - 5).toString(16)}\r\n${chunked.slice(5)}\r\n0\r\n\r\n`,
        ),
      ];
      for (const [i, answer] of answers.entries()) {
        expect(answer).toMatch(/^HTTP\/1\.1 200 /);
        const filterId = /"filter_id":"([^"]+)"/.exec(answer)?.[1] ?? '';
        const stored = await server.client.request('GET', `${path}/${filterId}`, { token });
        expect(stored.body).toEqual(filters[i]);
      }
    } finally {
      await server.stop();
    }
  });

  it('reads uploads up to the upload limit, every other body up to 4 MiB', async () => {
    const server = await startTestServer({
      file: { media: { max_upload_bytes: 6 * 1024 * 1024 } },
    });
    try {
      const [alice] = await registerUsers(server, ['alice']);
      const headers = { Authorization: `Bearer ${alice?.accessToken ?? ''}` };
      const fiveMiB = new Uint8Array(5 * 1024 * 1024);
      const upload = await fetch(`${server.url}/_matrix/media/v3/upload?filename=big.bin`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/octet-stream' },
        body: fiveMiB,
      });
      expect(upload.status).toBe(200);
      expect(String(((await upload.json()) as Record<string, unknown>)['content_uri'])).toMatch(
        /^mxc:\/\//,
      );
      const other = await fetch(`${server.url}/_matrix/client/v3/user/x/filter`, {
        method: 'POST',
        headers,
        body: fiveMiB,
      });
      expect(other.status).toBe(413);
      expect(((await other.json()) as Record<string, unknown>)['errcode']).toBe('M_TOO_LARGE');
    } finally {
      await server.stop();
    }
  });

  it('answers a long-poll at once once the server is stopping', async () => {
    const server = await startTestServer();
    try {
      const [alice] = await registerUsers(server, ['alice']);
      const headers = { Authorization: `Bearer ${alice?.accessToken ?? ''}` };
      const first = await fetch(`${server.url}/_matrix/client/v3/sync?timeout=0`, { headers });
      const since = String(((await first.json()) as Record<string, unknown>)['next_batch']);
      // What stop() does before the HTTP thread has closed: a long-poll arriving after it must
      // not wait out its timeout (it would hold the shutdown that long).
      server.services.ctx.notifier.wakeAll();
      const query = new URLSearchParams({ since, timeout: '120000' });
      const late = await fetch(`${server.url}/_matrix/client/v3/sync?${query}`, { headers });
      expect(late.status).toBe(200);
    } finally {
      await server.stop();
    }
  }, 20_000);

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
