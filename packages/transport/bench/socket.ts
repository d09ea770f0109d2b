/**
 * `node --conditions=weft-source bench/socket.ts`
 *
 * What `createMatrixApp` costs per request over real sockets, as a homeserver serves it
 * (`@hono/node-server`): a `/sync`-like GET with a Bearer token and a JSON answer, and a
 * `/send`-like PUT with a JSON body. The server runs in this process and the load in a child
 * process, so this process's CPU time is the server's alone. Compared, interleaved, against the
 * same endpoints in plain Hono on the same adapter and against bare `node:http` (the floor:
 * Node's own HTTP work, which no framework removes).
 */
import { fork } from 'node:child_process';
import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { serve } from '@hono/node-server';
import { Hono } from 'hono';

import { createMatrixApp, TokenBucketRateLimiter } from '../src/index.ts';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 3000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const CONCURRENCY = 10;
const SYNC_PATH =
  '/_matrix/client/v3/sync?timeout=30000&since=s1_0_0&filter=%7B%22room%22%3A%7B%7D%7D';
const SEND_PATH = '/_matrix/client/v3/rooms/!r:example.org/send/m.room.message/';
const SEND_BODY = JSON.stringify({ msgtype: 'm.text', body: 'Hello, world!' });
const SYNC_ANSWER = {
  next_batch: 's124_0_0',
  rooms: {
    join: {
      '!r:example.org': {
        timeline: {
          events: [
            {
              type: 'm.room.message',
              content: { msgtype: 'm.text', body: 'Hello, world!' },
              sender: '@alice:example.org',
              event_id: '$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
              origin_server_ts: 1_700_000_000_000,
            },
          ],
          limited: false,
          prev_batch: 's123_0_0',
        },
      },
    },
  },
};

if (process.argv[2] === 'client') {
  // The load: `REQUESTS` of one kind against the port, `CONCURRENCY` at a time, kept alive.
  process.on('message', async ({ port, kind }: { port: number; kind: 'GET' | 'PUT' }) => {
    const agent = new Agent({ keepAlive: true });
    const one = (n: number) =>
      new Promise<void>((ok, fail) => {
        const put = kind === 'PUT';
        const headers: Record<string, string | number> = { Authorization: 'Bearer tok' };
        if (put) headers['Content-Length'] = Buffer.byteLength(SEND_BODY);
        const call = request(
          {
            host: '127.0.0.1',
            port,
            method: kind,
            path: put ? `${SEND_PATH}t${n}` : SYNC_PATH,
            agent,
            headers,
          },
          (response) => {
            response.resume();
            response.on('end', () =>
              response.statusCode === 200 ? ok() : fail(new Error(`${response.statusCode}`)),
            );
          },
        );
        call.on('error', fail);
        call.end(put ? SEND_BODY : undefined);
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) await one(next++);
      }),
    );
    agent.destroy();
    process.send?.('done');
  });
} else {
  await main();
}

async function main(): Promise<void> {
  const matrix = createMatrixApp<{ userId: string }>({
    authenticateToken: (token) => (token === 'tok' ? { userId: '@alice:example.org' } : undefined),
    rateLimiter: new TokenBucketRateLimiter({ burst: 1e12, perSecond: 1e12 }),
  })
    .endpoint({
      method: 'GET',
      path: '/_matrix/client/v3/sync',
      auth: 'user',
      handler: () => SYNC_ANSWER,
    })
    .endpoint({
      method: 'PUT',
      path: '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId',
      auth: 'user',
      rateLimit: true,
      handler: ({ params }) => ({ event_id: `$${params.txnId}` }),
    });
  const plain = new Hono();
  plain.get('/_matrix/client/v3/sync', (c) => c.json(SYNC_ANSWER));
  plain.put('/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId', async (c) => {
    await c.req.json();
    return c.json({ event_id: `$${c.req.param('txnId')}` });
  });
  const bare = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      if (incoming.method === 'PUT') JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const text = JSON.stringify(
        incoming.method === 'PUT'
          ? { event_id: `$${incoming.url?.split('/').pop()}` }
          : SYNC_ANSWER,
      );
      outgoing.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(text),
      });
      outgoing.end(text);
    });
  });
  const servers: Record<string, Server> = {
    'weft createMatrixApp': await listen(
      (ready) => serve({ fetch: matrix.fetch, hostname: '127.0.0.1', port: 0 }, ready) as Server,
    ),
    'plain hono': await listen(
      (ready) => serve({ fetch: plain.fetch, hostname: '127.0.0.1', port: 0 }, ready) as Server,
    ),
    'bare node:http (floor)': await listen((ready) => bare.listen(0, '127.0.0.1', ready)),
  };
  const client = fork(new URL(import.meta.url).pathname, ['client'], {
    execArgv: ['--conditions=weft-source'],
  });
  const costs = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['GET', 'PUT'] as const) {
      for (const [name, server] of Object.entries(servers)) {
        const port = (server.address() as AddressInfo).port;
        const start = process.cpuUsage();
        client.send({ port, kind });
        await new Promise((ok) => client.once('message', ok));
        const used = process.cpuUsage(start);
        const key = `${kind} ${name}`;
        costs.set(key, [...(costs.get(key) ?? []), (used.user + used.system) / REQUESTS]);
      }
    }
  }
  client.kill();
  for (const server of Object.values(servers)) server.close();
  console.log(`server CPU per request, median of ${ROUNDS} interleaved rounds of ${REQUESTS}:`);
  for (const kind of ['GET', 'PUT']) {
    const floor = median(costs.get(`${kind} bare node:http (floor)`) ?? []);
    for (const name of Object.keys(servers)) {
      const cost = median(costs.get(`${kind} ${name}`) ?? []);
      console.log(
        `  ${kind} ${name.padEnd(24)} ${cost.toFixed(1).padStart(6)} µs  (${(cost / floor).toFixed(2)}× the floor)`,
      );
    }
  }
}

function listen(start: (ready: () => void) => Server): Promise<Server> {
  return new Promise((ok) => {
    const server: Server = start(() => ok(server));
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}
