/**
 * The response body of outbound federation fetches (services/federation/https-fetch.ts
 * `liveBody`), against a real HTTPS server with a certificate from the test's throwaway CA:
 * a body the peer cuts short is an error, never a short body that parses as something else; a
 * reader that stops reading holds the sender back instead of buffering the whole body; and a
 * consumer that cancels the body closes the connection.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHttpsFetch, type HttpsFetch } from '../src/services/federation/https-fetch.ts';
import { createTestCa, issueCert } from './federation-harness.ts';

/** What the server does with a request, by its path. */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const handlers = new Map<string, Handler>();

let server: Server;
let httpsFetch: HttpsFetch;

beforeAll(async () => {
  const ca = createTestCa();
  const cert = issueCert(ca, 'remote.test');
  server = createServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (req, res) => {
      const handler = handlers.get(req.url ?? '');
      if (handler === undefined) {
        res.writeHead(404).end();
        return;
      }
      handler(req, res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  httpsFetch = createHttpsFetch({ ca: readFileSync(ca.certFile, 'utf8') }, async () => ({
    host: '127.0.0.1',
    port,
    tlsName: 'remote.test',
    hostHeader: 'remote.test',
  }));
});

afterAll(async () => {
  httpsFetch.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Reads a whole body, counting its bytes. */
async function countBytes(body: ReadableStream<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of body) total += chunk.byteLength;
  return total;
}

const KIB = 1024;
const MIB = 1024 * KIB;

describe('outbound federation response bodies', () => {
  it('fails a body the peer cuts short after its Content-Length promised more', async () => {
    handlers.set('/short-length', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      // 100 of the 1000 bytes, then the connection goes.
      res.write(`{"a":"${'x'.repeat(93)}`, () => res.socket?.destroy());
    });
    const response = await httpsFetch('https://remote.test/short-length');
    expect(response.status).toBe(200);
    const body = response.body;
    if (body === null) throw new Error('expected a body');
    await expect(countBytes(body)).rejects.toThrow();
  });

  it('fails a chunked body the peer closes cleanly before its last chunk', async () => {
    handlers.set('/short-chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // No Content-Length: chunked. A clean TLS close before the terminating chunk.
      res.write('{"a":', () => res.socket?.end());
    });
    const response = await httpsFetch('https://remote.test/short-chunked');
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('reads a whole body the peer ends properly', async () => {
    handlers.set('/whole', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let left = 64;
      const next = (): void => {
        if (left-- === 0) res.end();
        else res.write(Buffer.alloc(16 * KIB, left), next);
      };
      next();
    });
    const response = await httpsFetch('https://remote.test/whole');
    const body = response.body;
    if (body === null) throw new Error('expected a body');
    expect(await countBytes(body)).toBe(64 * 16 * KIB);
  });

  it('holds the sender back while the reader does not read, then delivers every byte', async () => {
    const total = 64 * MIB;
    // The bytes the server's socket has taken so far, and whether it is waiting for `drain`.
    let accepted = 0;
    let blocked = false;
    let finished = false;
    handlers.set('/big', (_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(total),
      });
      const chunk = Buffer.alloc(64 * KIB, 1);
      const write = (): void => {
        while (accepted < total) {
          accepted += chunk.byteLength;
          if (!res.write(chunk)) {
            blocked = true;
            res.once('drain', () => {
              blocked = false;
              write();
            });
            return;
          }
        }
        res.end(() => {
          finished = true;
        });
      };
      write();
    });
    const response = await httpsFetch('https://remote.test/big');
    const body = response.body;
    if (body === null) throw new Error('expected a body');
    const reader = body.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    let read = first.value?.byteLength ?? 0;

    // Wait, without reading, until the server's writes have stopped: blocked on `drain` with
    // no progress across several polls. A fetch that buffered the whole body would instead let
    // the server finish; either way the loop ends.
    let lastAccepted = -1;
    let stillPolls = 0;
    while (!finished && stillPolls < 10) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stillPolls = blocked && accepted === lastAccepted ? stillPolls + 1 : 0;
      lastAccepted = accepted;
    }
    expect(finished).toBe(false);
    // What sits in socket buffers and the stream's queue is a small part of the body.
    expect(accepted).toBeLessThan(total / 4);

    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      read += next.value.byteLength;
    }
    expect(read).toBe(total);
  });

  it('closes the connection when the consumer cancels the body', async () => {
    let serverSocket: Socket | undefined;
    let stopWriting = false;
    handlers.set('/endless', (req, res) => {
      serverSocket = req.socket;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * KIB, 2);
      // Writes until the connection goes: only the client's cancel can end this response.
      const write = (): void => {
        while (!stopWriting && !res.destroyed) {
          if (!res.write(chunk)) {
            res.once('drain', write);
            return;
          }
        }
      };
      res.on('close', () => {
        stopWriting = true;
      });
      write();
    });
    const response = await httpsFetch('https://remote.test/endless');
    const body = response.body;
    if (body === null) throw new Error('expected a body');
    const reader = body.getReader();
    expect((await reader.read()).done).toBe(false);
    const socket = serverSocket;
    if (socket === undefined) throw new Error('the server saw no request');
    const closed = new Promise<void>((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once('close', () => resolve());
    });
    await reader.cancel();
    // Resolves only once the client has closed its end. A cancel that left the response
    // running would keep the server writing into an open connection (this wait times out) or
    // hand its next chunk to the cancelled stream (an uncaught error fails the run).
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});
