/**
 * Request body size limits (413 `M_TOO_LARGE`) at the socket: a client writes the request by hand
 * over TCP, so the test controls exactly which bytes the server has seen when it answers. An
 * oversized declared `Content-Length` must be refused from the headers alone (the body is never
 * sent here: a server that waited for it would never answer), and a chunked body as soon as it
 * crosses the limit (the terminating chunk is never sent). A `Request` built in process, whose
 * stream may hold more than its `Content-Length` says, is read only up to the limit.
 */
import { connect, type Socket } from 'node:net';

import { createMatrixApp } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listen, type TestServer } from './serve.ts';

const LIMIT = 1024;

const app = createMatrixApp({ maxBodyBytes: LIMIT }).endpoint({
  method: 'POST',
  path: '/_matrix/client/v3/echo',
  auth: 'none',
  handler: ({ body }) => ({ keys: Object.keys(body).length }),
});

let server: TestServer;
beforeAll(async () => {
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

/** An open TCP connection to the test server, and the response it will receive. */
async function open(): Promise<{ socket: Socket; answer: Promise<string> }> {
  const { hostname, port } = new URL(server.url);
  const socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  // The whole response has arrived once the body its Content-Length announces is there.
  const answer = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (end !== -1 && length !== null && text.length >= end + 4 + Number(length[1])) {
        resolve(text);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
  });
  return { socket, answer };
}

function statusAndBody(response: string): { status: number; body: Record<string, unknown> } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  return { status, body: JSON.parse(body) as Record<string, unknown> };
}

describe('body size limit at the socket (413 M_TOO_LARGE)', () => {
  it('refuses a declared Content-Length above the limit before any body byte arrives', async () => {
    const { socket, answer } = await open();
    socket.write(
      'POST /_matrix/client/v3/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${100 * 1024 * 1024}\r\n\r\n`,
    );
    const { status, body } = statusAndBody(await answer);
    socket.destroy();
    expect(status).toBe(413);
    expect(body['errcode']).toBe('M_TOO_LARGE');
  });

  it('refuses a chunked body once it crosses the limit, without waiting for its end', async () => {
    const { socket, answer } = await open();
    socket.write(
      'POST /_matrix/client/v3/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
    );
    // Two 600-byte chunks cross 1,024 bytes; the terminating zero-length chunk is never sent, so
    // a server that read the whole body before checking its size would never answer.
    socket.write(`258\r\n${'x'.repeat(600)}\r\n`);
    socket.write(`258\r\n${'x'.repeat(600)}\r\n`);
    const { status, body } = statusAndBody(await answer);
    socket.destroy();
    expect(status).toBe(413);
    expect(body['errcode']).toBe('M_TOO_LARGE');
  });

  it('accepts a declared Content-Length at the limit', async () => {
    const { socket, answer } = await open();
    const json = `{"a":"${'x'.repeat(LIMIT - 8)}"}`;
    socket.write(
      'POST /_matrix/client/v3/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${json.length}\r\n\r\n${json}`,
    );
    const { status, body } = statusAndBody(await answer);
    socket.destroy();
    expect(status).toBe(200);
    expect(body).toEqual({ keys: 1 });
  });
});

describe('body size limit of a Request built in process', () => {
  it('reads a stream that outgrows its declared Content-Length only up to the limit', async () => {
    // A Content-Length within the limit, and a stream that would go on far past it.
    const piece = new TextEncoder().encode('x'.repeat(300));
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        if (pulled > 1000) controller.close();
        else controller.enqueue(piece);
      },
    });
    const response = await app.fetch(
      new Request('http://t/_matrix/client/v3/echo', {
        method: 'POST',
        headers: { 'Content-Length': '10' },
        body,
        duplex: 'half',
      } as RequestInit),
    );
    expect(response.status).toBe(413);
    expect(((await response.json()) as Record<string, unknown>)['errcode']).toBe('M_TOO_LARGE');
    // Four 300-byte pieces cross 1,024 bytes; a stream may pull one ahead of the reader.
    expect(pulled).toBeLessThanOrEqual(6);
  });
});
