/**
 * The address policy's one request (services/core/address-policy.ts `AddressPolicy.request`),
 * against real local servers on 127.0.0.1: a denied address is refused before any connection
 * is made (an IP literal and a name), an allowed one answers (method, headers and body as
 * given), the deadline cuts a late answer (before its headers and during its body), and
 * certificates are verified (trusted through `ca` only).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AddressPolicy,
  DeniedAddressError,
  RequestTimeoutError,
} from '../src/services/core/address-policy.ts';
import { createTestCa, issueCert } from './federation-harness.ts';

/** What the server does with a request, by its path. */
const handlers = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>();
let server: Server;
let base: string;
/** TCP connections the plain server accepted. */
let connections = 0;

let tlsServer: HttpsServer;
let tlsBase: string;
let caPem: string;

/** The defaults (loopback denied), with 127.0.0.1 allowed by `ip_range_whitelist`. */
const allowed = new AddressPolicy({
  allowPrivateAddresses: false,
  ipRangeWhitelist: ['127.0.0.1'],
});
const denying = new AddressPolicy({ allowPrivateAddresses: false, ipRangeWhitelist: [] });

beforeAll(async () => {
  server = createServer((req, res) => {
    const handler = handlers.get(req.url ?? '');
    if (handler === undefined) res.writeHead(404).end();
    else handler(req, res);
  });
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ca = createTestCa();
  caPem = readFileSync(ca.certFile, 'utf8');
  const cert = issueCert(ca, 'remote.test');
  tlsServer = createHttpsServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('secure'),
  );
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  tlsBase = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of [server, tlsServer]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

async function text(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('AddressPolicy.request', () => {
  it('refuses a denied address before any connection (an IP literal, a name)', async () => {
    handlers.set('/never', (_req, res) => res.end('reached'));
    const before = connections;
    const port = (server.address() as AddressInfo).port;
    await expect(
      denying.request(new URL(`${base}/never`), { deadline: Date.now() + 5_000 }),
    ).rejects.toBeInstanceOf(DeniedAddressError);
    await expect(
      denying.request(new URL(`http://localhost:${port}/never`), { deadline: Date.now() + 5_000 }),
    ).rejects.toBeInstanceOf(DeniedAddressError);
    expect(connections).toBe(before);
  });

  it('sends the method, headers and body to an allowed address and answers the response', async () => {
    handlers.set('/echo', async (req, res) => {
      const body = await text(req);
      res
        .writeHead(201, { 'Content-Type': 'text/plain' })
        .end(`${req.method} ${req.headers['x-test']} ${body}`);
    });
    const response = await allowed.request(new URL(`${base}/echo`), {
      method: 'POST',
      headers: { 'X-Test': 'yes', 'Content-Length': 5 },
      body: 'hello',
      deadline: Date.now() + 5_000,
    });
    expect(response.statusCode).toBe(201);
    expect(await text(response)).toBe('POST yes hello');
    const plain = await allowed.request(new URL(`${base}/missing`), {
      deadline: Date.now() + 5_000,
    });
    expect(plain.statusCode).toBe(404);
    plain.resume();
  });

  it('rejects with RequestTimeoutError when the headers are late', async () => {
    handlers.set('/silent', () => undefined);
    const started = Date.now();
    await expect(
      allowed.request(new URL(`${base}/silent`), { deadline: Date.now() + 200 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('cuts a body still arriving at the deadline (the response errored with the timeout)', async () => {
    handlers.set('/stall', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('part');
    });
    const response = await allowed.request(new URL(`${base}/stall`), {
      deadline: Date.now() + 200,
    });
    expect(response.statusCode).toBe(200);
    await expect(text(response)).rejects.toThrow();
    expect(response.errored).toBeInstanceOf(RequestTimeoutError);
  });

  it('verifies certificates: refused without the CA, answered with it', async () => {
    const url = new URL(`${tlsBase}/`);
    await expect(allowed.request(url, { deadline: Date.now() + 5_000 })).rejects.toThrow();
    const response = await allowed.request(url, { ca: caPem, deadline: Date.now() + 5_000 });
    expect(response.statusCode).toBe(200);
    expect(await text(response)).toBe('secure');
    // Again with the same CA (its TLS context built once and kept), and once more without it:
    // a connection made trusting the CA is not handed to a request that does not.
    const again = await allowed.request(url, { ca: caPem, deadline: Date.now() + 5_000 });
    expect(await text(again)).toBe('secure');
    await expect(allowed.request(url, { deadline: Date.now() + 5_000 })).rejects.toThrow();
  });
});
