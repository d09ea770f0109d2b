/**
 * The `.well-known/matrix/server` fetch (services/federation/discovery/well-known.ts; spec
 * server-server-api "Server discovery": "Servers should follow 30x redirects, carefully avoiding
 * redirect loops") against a real HTTPS server with a certificate from the test CA, through the
 * federation's own HTTPS fetch: redirects are followed (at most 5, https only, no loops), the
 * body is capped at 64 KiB, and the answer's Cache-Control sets how long the resolver caches
 * the delegation (24 hours without one, at most 48).
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ServerResolver } from '../src/services/federation/discovery/resolve-server.ts';
import {
  fetchWellKnown,
  MAX_WELL_KNOWN_BYTES,
  WELL_KNOWN_DEFAULT_TTL_MS,
  WELL_KNOWN_MAX_TTL_MS,
  WellKnownResponse,
} from '../src/services/federation/discovery/well-known.ts';
import { createHttpsFetch, type HttpsFetch } from '../src/services/federation/https-fetch.ts';
import { createTestCa, issueCert } from './federation-harness.ts';

const W = 'w.test';
const WELL_KNOWN = '/.well-known/matrix/server';
/** What the server answers, by path. */
const routes = new Map<string, (res: ServerResponse) => void>();
let server: Server;
let httpsFetch: HttpsFetch;
let base: string;

function redirect(to: string, status = 302): (res: ServerResponse) => void {
  return (res) => res.writeHead(status, { location: to }).end();
}

function json(body: unknown, headers: Record<string, string> = {}): (res: ServerResponse) => void {
  return (res) =>
    res
      .writeHead(200, { 'content-type': 'application/json', ...headers })
      .end(JSON.stringify(body));
}

beforeAll(async () => {
  const ca = createTestCa();
  const cert = issueCert(ca, W);
  server = createServer(
    { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
    (req, res) => {
      const route = routes.get(req.url ?? '');
      if (route === undefined) res.writeHead(404).end();
      else route(res);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // Every https://w.test URL (any port) goes to the test server, verified as w.test.
  httpsFetch = createHttpsFetch({ ca: readFileSync(ca.certFile, 'utf8') }, async (url) => ({
    host: '127.0.0.1',
    port,
    tlsName: url.hostname,
    hostHeader: url.host,
  }));
  base = `https://${W}`;
});

afterAll(async () => {
  httpsFetch?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

describe('.well-known/matrix/server (discovery/well-known.ts)', () => {
  it('follows redirects, relative and absolute', async () => {
    routes.clear();
    routes.set(WELL_KNOWN, redirect('/hop1', 301));
    routes.set('/hop1', redirect(`${base}/hop2`, 307));
    routes.set('/hop2', json({ 'm.server': 'matrix.w.test:443' }));
    const answer = await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`);
    expect(answer?.body).toEqual({ 'm.server': 'matrix.w.test:443' });
  });

  it('stops at a redirect loop, after 5 redirects, and at a redirect off https', async () => {
    routes.clear();
    routes.set(WELL_KNOWN, redirect('/a'));
    routes.set('/a', redirect('/b'));
    routes.set('/b', redirect('/a'));
    expect(await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`)).toBeUndefined();

    const chain = (hops: number) => {
      routes.clear();
      routes.set(WELL_KNOWN, redirect('/r1'));
      for (let i = 1; i < hops; i += 1) routes.set(`/r${i}`, redirect(`/r${i + 1}`));
      routes.set(`/r${hops}`, json({ 'm.server': 'x.w.test' }));
    };
    chain(5);
    expect((await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`))?.body).toEqual({
      'm.server': 'x.w.test',
    });
    chain(6);
    expect(await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`)).toBeUndefined();

    routes.clear();
    routes.set(WELL_KNOWN, redirect(`http://${W}/plain`));
    routes.set('/plain', json({ 'm.server': 'x.w.test' }));
    expect(await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`)).toBeUndefined();
  });

  it('refuses a body over 64 KiB', async () => {
    routes.clear();
    const padding = 'x'.repeat(MAX_WELL_KNOWN_BYTES);
    routes.set(WELL_KNOWN, json({ 'm.server': 'big.w.test', padding }));
    await expect(fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`)).rejects.toThrow(/64|bytes/);
  });

  it('caches as Cache-Control says: 24 hours without it, at most 48', async () => {
    routes.clear();
    routes.set(WELL_KNOWN, json({ 'm.server': 'c.w.test' }, { 'cache-control': 'max-age=600' }));
    expect((await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`))?.maxAgeMs).toBe(600_000);
    routes.set(WELL_KNOWN, json({ 'm.server': 'c.w.test' }));
    expect((await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`))?.maxAgeMs).toBe(
      WELL_KNOWN_DEFAULT_TTL_MS,
    );
    routes.set(
      WELL_KNOWN,
      json({ 'm.server': 'c.w.test' }, { 'cache-control': 'max-age=9999999' }),
    );
    expect((await fetchWellKnown(httpsFetch, `${base}${WELL_KNOWN}`))?.maxAgeMs).toBe(
      WELL_KNOWN_MAX_TTL_MS,
    );

    // The resolver keeps the delegation exactly that long.
    let now = 0;
    let asked = 0;
    const resolver = new ServerResolver(
      {},
      async () => {
        asked += 1;
        return new WellKnownResponse({ 'm.server': 'c.w.test:8448' }, 600_000);
      },
      () => now,
    );
    await resolver.resolve(W);
    now = 599_999;
    await resolver.resolve(W);
    expect(asked).toBe(1);
    now = 600_001;
    await resolver.resolve(W);
    expect(asked).toBe(2);
  });
});
