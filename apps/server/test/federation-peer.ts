/**
 * A hand-written federation peer for tests: a small Hono app over real TLS (certificate from the
 * test CA) with its own Ed25519 key. It publishes its keys, records every transaction it
 * receives, serves events it chose to expose via `/event/{eventId}`, and signs and sends
 * transactions of events it builds — including deliberately bad ones (forged signatures, wrong
 * hashes, events that break the auth rules) — and makes any signed, forged or unsigned request.
 * It can go down and come back on the same port. malicious-server/main.ts runs it as its own
 * process.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

import { serve } from '@hono/node-server';
import {
  buildServerKeys,
  computeEventId,
  generateSigningKey,
  type JsonObject,
  type SigningKey,
  signEvent,
} from '@weft/signing';
import { MatrixError, MatrixHttpClient } from '@weft/transport';
import { Hono } from 'hono';

import { createHttpsFetch } from '../src/services/federation/https-fetch.ts';
import type { TestCa, TestCert } from './federation-harness.ts';

/** A transaction the peer received. */
export interface ReceivedTxn {
  readonly txnId: string;
  readonly origin: string;
  readonly pdus: Array<Record<string, unknown>>;
  readonly edus: Array<Record<string, unknown>>;
}

/** The running peer. */
export interface TestPeer {
  readonly name: string;
  readonly port: number;
  readonly key: SigningKey;
  readonly received: ReceivedTxn[];
  /** Events served by `GET /event/{eventId}`. */
  readonly served: Map<string, Record<string, unknown>>;
  /** Events answered to `POST /get_missing_events/{roomId}` (and the requests received). */
  readonly missing: Array<Record<string, unknown>>;
  readonly missingRequests: Array<Record<string, unknown>>;
  /** Answers to `GET /state_ids/{roomId}?event_id=…`, by `event_id` (404 when absent). */
  readonly stateIds: Map<string, { pdu_ids: unknown[]; auth_chain_ids: unknown[] }>;
  /** The event IDs asked for with `GET /event/{eventId}`, in order. */
  readonly eventRequests: string[];
  /** Signs (hashes + signature) an event as this server; returns it with its event ID. */
  sign(
    event: Record<string, unknown>,
    roomVersion: string,
  ): { pdu: Record<string, unknown>; eventId: string };
  /** Sends a signed transaction to `destination`; resolves to the HTTP status and body. */
  send(
    destination: string,
    txnId: string,
    pdus: readonly unknown[],
    edus?: readonly unknown[],
  ): Promise<Record<string, unknown>>;
  /**
   * Any signed federation request to `destination`; resolves to `{ status, body }` whatever the
   * status (the error answers are what ACL and fuzz tests look at).
   */
  request(
    destination: string,
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The same request with an X-Matrix signature by a throwaway key under the real key ID. */
  forgedRequest(
    destination: string,
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** The same request WITHOUT an X-Matrix Authorization header (an unsigned request). */
  unsignedRequest(
    destination: string,
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Stops listening (the port stays reserved for `up`). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

/** One request through `client`; an error answer resolves too, as `{ status, body }`. */
async function signedRequest(
  client: MatrixHttpClient,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const answer = await client.request<Record<string, unknown>>({
      method,
      path,
      ...(body === undefined ? {} : { body }),
    });
    return { status: 200, body: answer };
  } catch (error) {
    if (!MatrixError.isInstance(error)) throw error;
    return { status: error.status, body: { errcode: error.errcode, error: error.message } };
  }
}

/** Starts a peer called `name` on `port`, trusting `ca` and reaching others through `hosts`. */
export async function startTestPeer(
  name: string,
  port: number,
  ca: TestCa,
  cert: TestCert,
  hosts: Readonly<Record<string, string>>,
): Promise<TestPeer> {
  const key = generateSigningKey();
  const received: ReceivedTxn[] = [];
  const served = new Map<string, Record<string, unknown>>();
  const missing: Array<Record<string, unknown>> = [];
  const missingRequests: Array<Record<string, unknown>> = [];
  const stateIds = new Map<string, { pdu_ids: unknown[]; auth_chain_ids: unknown[] }>();
  const eventRequests: string[] = [];
  const app = new Hono();
  app.get('/_matrix/key/v2/server', (c) =>
    c.json(
      buildServerKeys({
        serverName: name,
        signingKeys: [key],
        validUntilTs: Date.now() + 3_600_000,
      }),
    ),
  );
  app.put('/_matrix/federation/v1/send/:txnId', async (c) => {
    const body = (await c.req.json()) as Record<string, unknown>;
    received.push({
      txnId: c.req.param('txnId'),
      origin: String(body['origin']),
      pdus: (body['pdus'] ?? []) as Array<Record<string, unknown>>,
      edus: (body['edus'] ?? []) as Array<Record<string, unknown>>,
    });
    return c.json({ pdus: {} });
  });
  app.get('/_matrix/federation/v1/event/:eventId', (c) => {
    eventRequests.push(c.req.param('eventId'));
    const event = served.get(c.req.param('eventId'));
    if (event === undefined) return c.json({ errcode: 'M_NOT_FOUND', error: 'no' }, 404);
    return c.json({ origin: name, origin_server_ts: Date.now(), pdus: [event] });
  });
  app.post('/_matrix/federation/v1/get_missing_events/:roomId', async (c) => {
    missingRequests.push((await c.req.json()) as Record<string, unknown>);
    return c.json({ events: missing });
  });
  app.get('/_matrix/federation/v1/state_ids/:roomId', (c) => {
    const answer = stateIds.get(c.req.query('event_id') ?? '');
    if (answer === undefined) return c.json({ errcode: 'M_NOT_FOUND', error: 'no' }, 404);
    return c.json(answer);
  });
  app.all('*', (c) => c.json({ errcode: 'M_UNRECOGNIZED', error: 'not here' }, 404));

  const { readFileSync } = await import('node:fs');
  const caPem = readFileSync(ca.certFile, 'utf8');
  const httpsFetch = createHttpsFetch({ ca: caPem }, async (url) => {
    const target = hosts[url.host];
    if (target === undefined) throw new Error(`peer does not know ${url.host}`);
    const [host = '', portText = ''] = target.split(':');
    return { host, port: Number(portText), tlsName: url.hostname, hostHeader: url.host };
  });

  const clientFor = (destination: string, signingKey = key): MatrixHttpClient =>
    new MatrixHttpClient({
      baseUrl: `https://${destination}`,
      federation: { origin: name, destination, signingKey },
      fetch: httpsFetch,
      retry: false,
    });

  let server: ReturnType<typeof serve> | undefined;
  const up = async (): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      server = serve(
        {
          fetch: app.fetch,
          hostname: '127.0.0.1',
          port,
          createServer: createHttpsServer,
          serverOptions: { cert: cert.cert, key: cert.key },
        },
        (_info: AddressInfo) => resolve(),
      );
      server.once('error', reject);
    });
  };
  await up();
  return {
    name,
    port,
    key,
    received,
    served,
    missing,
    missingRequests,
    stateIds,
    eventRequests,
    sign(event, roomVersion) {
      const pdu = signEvent(event as JsonObject, roomVersion, name, key);
      return { pdu, eventId: computeEventId(pdu as JsonObject, roomVersion) };
    },
    request: (destination, method, path, body) =>
      signedRequest(clientFor(destination), method, path, body),
    forgedRequest: (destination, method, path, body) =>
      signedRequest(clientFor(destination, generateSigningKey(key.version)), method, path, body),
    async unsignedRequest(destination, method, path, body) {
      const response = await httpsFetch(`https://${destination}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
      };
    },
    async send(destination, txnId, pdus, edus = []) {
      const client = clientFor(destination);
      return client.put(`/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`, {
        origin: name,
        origin_server_ts: Date.now(),
        pdus,
        edus,
      });
    },
    async down() {
      const current = server;
      server = undefined;
      if (current === undefined) return;
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        if ('closeAllConnections' in current) current.closeAllConnections();
      });
    },
    up,
  };
}
