/**
 * Outbound federation connections (services/federation/https-fetch.ts) against a real HTTPS
 * server with a certificate from the test's throwaway CA: sequential requests to one destination
 * share one kept-alive TLS connection (one handshake, not one per request); concurrent requests
 * are bounded by the per-destination socket limit; a server whose certificate the CA did not
 * issue is still refused (keep-alive changes nothing about verification).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHttpsFetch } from '../src/services/federation/https-fetch.ts';
import { createTestCa, issueCert, type TestCa } from './federation-harness.ts';

let ca: TestCa;
let server: Server;
let port = 0;
let handshakes = 0;
let open = 0;
let maxOpen = 0;

beforeAll(async () => {
  ca = createTestCa();
  const cert = issueCert(ca, 'remote.test');
  server = createServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (req, res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      // Answer a little later so concurrent requests overlap on the server.
      setTimeout(() => {
        open--;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url }));
      }, 20);
    },
  );
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function fetchFor(caPem: string) {
  return createHttpsFetch({ ca: caPem }, async () => ({
    host: '127.0.0.1',
    port,
    tlsName: 'remote.test',
    hostHeader: 'remote.test',
  }));
}

describe('outbound federation connections', () => {
  it('reuses one TLS connection for sequential requests to a destination', async () => {
    const httpsFetch = fetchFor(readFileSync(ca.certFile, 'utf8'));
    handshakes = 0;
    for (let i = 0; i < 10; i++) {
      const response = await httpsFetch(`https://remote.test/_matrix/federation/v1/version?i=${i}`);
      expect(await response.json()).toEqual({ path: `/_matrix/federation/v1/version?i=${i}` });
    }
    expect(handshakes).toBe(1);
    httpsFetch.close();
  });

  it('bounds the sockets per destination and answers every concurrent request', async () => {
    const httpsFetch = fetchFor(readFileSync(ca.certFile, 'utf8'));
    handshakes = 0;
    maxOpen = 0;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        httpsFetch(`https://remote.test/x?i=${i}`).then((r) => r.json()),
      ),
    );
    expect(answers).toHaveLength(40);
    expect(maxOpen).toBeLessThanOrEqual(16);
    expect(handshakes).toBeLessThanOrEqual(16);
    httpsFetch.close();
  });

  it('still refuses a certificate the trusted CA did not issue', async () => {
    const otherCa = createTestCa();
    const httpsFetch = fetchFor(readFileSync(otherCa.certFile, 'utf8'));
    await expect(httpsFetch('https://remote.test/_matrix/key/v2/server')).rejects.toThrow();
    httpsFetch.close();
  });
});
