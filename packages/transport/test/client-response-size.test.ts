/**
 * MatrixHttpClient's response size limit (`maxResponseBytes`, default 64 MiB) against a real
 * HTTP server on loopback: a big answer under the limit (a federation `send_join` answer of a
 * large room is tens of MB) parses whole, one over it fails with a typed `bad-response`
 * TransportError — whether the server declares its length up front or streams it chunked — and
 * is never retried (the same answer would come back).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { MatrixHttpClient, TransportError } from '@weft/transport';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** What the server sends for the next request. */
interface Answer {
  readonly body: string;
  /** `false`: no Content-Length, written in 64 KiB chunks (chunked transfer encoding). */
  readonly declareLength: boolean;
}

let answer: Answer = { body: '{}', declareLength: true };
let hits = 0;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => {
      const bytes = Buffer.from(answer.body, 'utf8');
      const headers: Record<string, string | number> = { 'Content-Type': 'application/json' };
      if (answer.declareLength) headers['Content-Length'] = bytes.byteLength;
      res.writeHead(200, headers);
      if (answer.declareLength) {
        res.end(bytes);
        return;
      }
      // Chunked: the client only learns the size while reading.
      for (let i = 0; i < bytes.byteLength; i += 65_536) res.write(bytes.subarray(i, i + 65_536));
      res.end();
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
  hits = 0;
});

/** A JSON object of about `bytes` bytes: `count` PDU-like entries, as a send_join answer holds. */
function bigAnswer(count: number): { text: string; value: Record<string, unknown> } {
  const state = Array.from({ length: count }, (_, i) => ({
    type: 'm.room.member',
    state_key: `@user${i}:c.test`,
    sender: `@user${i}:c.test`,
    content: { membership: 'join', displayname: `User ${i} ✓` },
    depth: i + 3,
  }));
  const value = { origin: 'a.test', state, members_omitted: false };
  return { text: JSON.stringify(value), value };
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail');
}

describe('MatrixHttpClient response size limit', () => {
  it('parses a big response under the default limit whole, chunked or not', async () => {
    // ≈ 4 MB: far past any single socket read, well under 64 MiB.
    const { text, value } = bigAnswer(30_000);
    expect(text.length).toBeGreaterThan(4_000_000);
    const client = new MatrixHttpClient({ baseUrl, retry: false });
    for (const declareLength of [true, false]) {
      answer = { body: text, declareLength };
      expect(await client.get('/_matrix/federation/v2/send_join')).toEqual(value);
    }
    expect(hits).toBe(2);
  });

  it('accepts a response of exactly maxResponseBytes', async () => {
    const { text, value } = bigAnswer(2_000);
    const limit = Buffer.byteLength(text, 'utf8');
    const client = new MatrixHttpClient({ baseUrl, retry: false, maxResponseBytes: limit });
    for (const declareLength of [true, false]) {
      answer = { body: text, declareLength };
      expect(await client.get('/x')).toEqual(value);
    }
  });

  it('fails with a typed bad-response error one byte over the limit, without retrying', async () => {
    const { text } = bigAnswer(2_000);
    const limit = Buffer.byteLength(text, 'utf8') - 1;
    // Retries allowed: a too-large answer must still be tried only once.
    const client = new MatrixHttpClient({
      baseUrl,
      maxResponseBytes: limit,
      retry: { maxAttempts: 3 },
      sleep: async () => undefined,
    });
    for (const declareLength of [true, false]) {
      hits = 0;
      answer = { body: text, declareLength };
      const error = await failure(client.get('/_matrix/federation/v2/send_join'));
      expect(TransportError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'bad-response',
        method: 'GET',
        path: '/_matrix/federation/v2/send_join',
      });
      expect((error as Error).message).toContain('too large');
      expect(hits).toBe(1);
    }
  });
});
