/**
 * What the HTTP thread (src/http-worker.cts) refuses on its own, before the main thread sees a
 * request, so that clients can't exhaust memory or hold the server open: an upload without an
 * access token is answered before its body is read; bodies in flight across connections are
 * capped (429); connections are capped; a refused body's connection is closed, not read to its
 * end; a shutdown cuts connections after its deadline, or at once when forced; and what Node's
 * parser refuses is answered as a Matrix error with the CORS headers.
 */
import { afterEach, describe, expect, it } from 'vitest';

import {
  type BridgedRequest,
  type HttpThread,
  type HttpThreadOptions,
  startHttpThread,
} from '../src/http-thread.ts';
import { startTestServer } from './harness.ts';
import { openRawConnection, type RawConnection } from './raw-connection.ts';

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

let seen: BridgedRequest[] = [];
let thread: HttpThread | undefined;

async function start(
  options: Partial<HttpThreadOptions> = {},
  handle: (request: BridgedRequest) => void = () => {},
): Promise<number> {
  thread = await startHttpThread(
    { ...OPTIONS, ...options },
    (request) => {
      seen.push(request);
      handle(request);
    },
    { exited: () => {}, failed: () => {} },
  );
  return thread.port;
}

afterEach(async () => {
  const closing = thread?.close();
  thread?.force();
  await closing;
  thread = undefined;
  seen = [];
});

describe('the HTTP thread refuses early', () => {
  it('caps the body bytes in flight across connections (429), released once answered', async () => {
    const port = await start({ maxInFlightBytes: 6000 }, (request) => {
      if (request.url.includes('now')) request.respond({ status: 200, headers: {}, body: 'ok' });
    });
    const url = `http://127.0.0.1:${port}`;
    const auth = { Authorization: 'Bearer t' };
    const held = fetch(`${url}/upload-big?hold`, {
      method: 'POST',
      headers: auth,
      body: 'x'.repeat(4000),
    });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Declared: refused before reading.
    const declared = await fetch(`${url}/upload-big?now`, {
      method: 'POST',
      headers: auth,
      body: 'x'.repeat(4000),
    });
    expect(declared.status).toBe(429);
    expect(((await declared.json()) as { errcode: string }).errcode).toBe('M_LIMIT_EXCEEDED');
    // Chunked: refused once it passes the cap, and its connection closed.
    const chunked = await openRawConnection(
      port,
      'POST /upload-big?now HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n' +
        `Transfer-Encoding: chunked\r\n\r\nfa0\r\n${'y'.repeat(4000)}\r\n`,
    );
    await chunked.ended;
    expect(chunked.received()).toMatch(/^HTTP\/1\.1 429 /);
    expect(seen).toHaveLength(1);
    // Once the held request is answered, its bytes are free again.
    seen[0]?.respond({ status: 200, headers: {}, body: 'done' });
    expect(await (await held).text()).toBe('done');
    const after = await fetch(`${url}/upload-big?now`, {
      method: 'POST',
      headers: auth,
      body: 'x'.repeat(4000),
    });
    expect(after.status).toBe(200);
  });

  it('drops connections past maxConnections', async () => {
    const port = await start({ maxConnections: 1 }, (request) =>
      request.respond({ status: 200, headers: {}, body: 'ok' }),
    );
    const first = await openRawConnection(port, 'GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
    await first.until(/\r\n\r\nok$/);
    const second = await openRawConnection(port, 'GET /two HTTP/1.1\r\nHost: x\r\n\r\n');
    await second.ended;
    expect(second.received()).toBe('');
    first.socket.destroy();
  });

  it('closes the connection after a 413 instead of reading an endless body', async () => {
    const port = await start();
    const connection = await openRawConnection(
      port,
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = `4000\r\n${'z'.repeat(0x4000)}\r\n`;
    let ended = false;
    void connection.ended.then(() => {
      ended = true;
    });
    // Writes for as long as the server takes it: without the close, for ever.
    const pump = (): void => {
      while (!ended && !connection.socket.destroyed && connection.socket.write(chunk)) {}
      if (!ended && !connection.socket.destroyed) connection.socket.once('drain', pump);
    };
    pump();
    await connection.ended;
    expect(connection.received()).toMatch(/^HTTP\/1\.1 413 /);
    expect(connection.received()).toMatch(/\r\nConnection: close\r\n/i);
    expect(seen).toEqual([]);
    connection.socket.destroy();
  });
});

/** Sends a request's head asking for `100 Continue` and waits for it: the server is reading it. */
async function trickling(port: number, path: string): Promise<RawConnection> {
  const connection = await openRawConnection(
    port,
    `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n` +
      'Content-Length: 100\r\nExpect: 100-continue\r\n\r\n',
  );
  await connection.until(/^HTTP\/1\.1 100 /);
  connection.socket.write('{');
  return connection;
}

describe('closing the HTTP thread', () => {
  it('cuts a connection still reading a body once the shutdown deadline passes', async () => {
    const port = await start({ shutdownTimeoutMs: 100 });
    const connection = await trickling(port, '/slow');
    await thread?.close();
    thread = undefined;
    await connection.ended;
    expect(seen).toEqual([]);
  });

  it('cuts every connection at once when forced', async () => {
    // A deadline longer than the test's timeout: only `force` ends this.
    const port = await start({ shutdownTimeoutMs: 600_000 });
    const connection = await trickling(port, '/slow');
    const closing = thread?.close();
    thread?.force();
    await closing;
    thread = undefined;
    await connection.ended;
  });
});

describe('requests through the server', () => {
  it('answers concurrent anonymous uploads 401 before their bodies are sent', async () => {
    const server = await startTestServer();
    try {
      const { port } = new URL(server.url);
      // 45 MB declared each; only 64 KiB ever sent: the answer cannot wait for the rest.
      const connections = await Promise.all(
        Array.from({ length: 20 }, () =>
          openRawConnection(
            Number(port),
            'POST /_matrix/media/v3/upload?filename=a.bin HTTP/1.1\r\nHost: x\r\n' +
              'Content-Type: application/octet-stream\r\nContent-Length: 45000000\r\n\r\n' +
              'x'.repeat(64 * 1024),
          ),
        ),
      );
      for (const connection of connections) {
        await connection.ended;
        const answer = connection.received();
        expect(answer).toMatch(/^HTTP\/1\.1 401 /);
        expect(answer).toContain('"errcode":"M_MISSING_TOKEN"');
        expect(answer).toMatch(/\r\nAccess-Control-Allow-Origin: \*\r\n/i);
        expect(answer).toMatch(/\r\nConnection: close\r\n/i);
        connection.socket.destroy();
      }
    } finally {
      await server.stop();
    }
  });

  it("answers what Node's parser refuses as a Matrix error with the CORS headers", async () => {
    const server = await startTestServer();
    try {
      const port = Number(new URL(server.url).port);
      const cases: [string, number, string][] = [
        [
          `GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
          431,
          'M_TOO_LARGE',
        ],
        ['FOO /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'M_UNRECOGNIZED'],
        // CONNECT's target is no path this server serves: the 404 of an unserved path.
        [
          'CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n',
          404,
          'M_UNRECOGNIZED',
        ],
        ['CONNECT /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'M_UNRECOGNIZED'],
      ];
      for (const [request, status, errcode] of cases) {
        const connection = await openRawConnection(port, request);
        await connection.ended;
        const answer = connection.received();
        expect(answer, request.slice(0, 20)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
        expect(answer).toMatch(/\r\nAccess-Control-Allow-Origin: \*\r\n/i);
        expect(answer).toMatch(/\r\nContent-Type: application\/json\r\n/i);
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
          errcode: string;
        };
        expect(body.errcode).toBe(errcode);
        connection.socket.destroy();
      }
    } finally {
      await server.stop();
    }
  });
});
