/**
 * Federation throughput (issue 6 target: ≥ 500 events/s): two `weft-server` PROCESSES on
 * loopback with real TLS (certificates from test/federation-harness.ts's throwaway CA), a room
 * on A joined from B; N messages sent on A by 20 concurrent client requests; the clock runs from
 * the first send until all N have arrived in a long-polling `/sync` of B's user (the issue's
 * "from send on A to visible in sync on B"), and B's `/messages` is checked to hold them all.
 *
 * Run: `node --conditions=weft-source bench/federation-throughput.ts [N]` from apps/server.
 */

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { createTestCa, federationConfigYaml, issueCert } from '../test/federation-harness.ts';
import { TestClient } from '../test/harness.ts';
import { freePort, spawnServer } from '../test/spawn.ts';
import { leanHttpClient } from './lean-http.ts';
import { cpuSeconds } from './proc.ts';

const N = Number(process.argv[2] ?? 2000);
// WEFT_BENCH_PROF_DIR=/tmp/prof writes V8 CPU profiles of each server process (one file per
// thread) into a folder of that directory per process: a/, b/ and b-catch-up/ (B restarted).
const profDir = process.env['WEFT_BENCH_PROF_DIR'];
const profFlags = (name: string): string[] =>
  profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}/${name}`];

/** CPU time (user + system) a process has used so far (ms). */
function processCpuMs(pid: number): number {
  const { user, system } = cpuSeconds(pid);
  return (user + system) * 1000;
}
const CONCURRENCY = 20;

/** Transactions B has received from A so far (its replay records, read from its database). */
function transactionsOnB(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, 'weft.db'), { readOnly: true });
  try {
    const row = db
      .prepare("SELECT COUNT(*) AS n FROM federation_inbound_txns WHERE origin = 'a.test'")
      .get() as { n: number };
    return Number(row.n);
  } finally {
    db.close();
  }
}

const ca = createTestCa();
const ports = {
  a: await freePort(),
  b: await freePort(),
  fa: await freePort(),
  fb: await freePort(),
};
const hosts = { 'a.test': `127.0.0.1:${ports.fa}`, 'b.test': `127.0.0.1:${ports.fb}` };
const [a, firstB] = await Promise.all([
  spawnServer({
    serverName: 'a.test',
    port: ports.a,
    configYaml: federationConfigYaml(ca, issueCert(ca, 'a.test'), ports.fa, hosts),
    nodeFlags: profFlags('a'),
  }),
  spawnServer({
    serverName: 'b.test',
    port: ports.b,
    configYaml: federationConfigYaml(ca, issueCert(ca, 'b.test'), ports.fb, hosts),
    nodeFlags: profFlags('b'),
  }),
]);
let b = firstB;
try {
  const clientA = new TestClient(a.url);
  const clientB = new TestClient(b.url);
  // The measured loops (sends on A, /sync on B) use the lean client: the bench shares the two
  // cores with both servers, and fetch's CPU per request would be taken from them.
  const leanA = leanHttpClient(a.url);
  const leanB = leanHttpClient(b.url);
  const alice = await clientA.registerUser('alice');
  const bob = await clientB.registerUser('bob');
  const created = await clientA.request('POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    body: { preset: 'public_chat' },
  });
  const room = encodeURIComponent(String(created.body['room_id']));
  const joined = await clientB.request(
    'POST',
    `/_matrix/client/v3/join/${room}?server_name=a.test`,
    {
      token: bob.accessToken,
      body: {},
    },
  );
  if (joined.status !== 200) throw new Error(`join failed: ${JSON.stringify(joined.body)}`);
  // /messages answers at most 1,000 events a page (its cap), so count page by page.
  const countOnB = async (client = clientB, prefix = 'message'): Promise<number> => {
    let count = 0;
    let from = '';
    for (;;) {
      const response = await client.request<{
        chunk: Array<{ type: string; content: { body?: string } }>;
        end?: string;
      }>('GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=1000${from}`, {
        token: bob.accessToken,
      });
      count += response.body.chunk.filter(
        (event) => event.type === 'm.room.message' && event.content.body?.startsWith(prefix),
      ).length;
      if (response.body.end === undefined || response.body.chunk.length === 0) return count;
      from = `&from=${encodeURIComponent(response.body.end)}`;
    }
  };
  // Bob long-polls /sync on B, as a client would: the clock stops when the last event arrives
  // there ("from send on A to visible in sync on B"). The timeline limit is above the whole run,
  // so no response is `limited` and every event comes through sync itself.
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: N + 50 } } }));
  let since = String(
    (
      await clientB.request('GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, {
        token: bob.accessToken,
      })
    ).body['next_batch'],
  );
  let gaps = 0;
  /** Long-polls B's /sync until `count` events whose body starts with `prefix` came through. */
  const syncUntil = async (
    lean: ReturnType<typeof leanHttpClient>,
    prefix: string,
    count: number,
  ): Promise<number> => {
    let seenInSync = 0;
    while (seenInSync < count) {
      const response = await lean.request(
        'GET',
        `/_matrix/client/v3/sync?timeout=30000&since=${since}&filter=${filter}`,
        bob.accessToken,
      );
      if (response.status !== 200) throw new Error(`sync: ${response.status} ${response.text}`);
      const body = JSON.parse(response.text) as {
        next_batch: string;
        rooms?: {
          join?: Record<
            string,
            { timeline: { limited?: boolean; events: Array<{ content: { body?: string } }> } }
          >;
        };
      };
      since = body.next_batch;
      for (const joined of Object.values(body.rooms?.join ?? {})) {
        if (joined.timeline.limited === true) gaps += 1;
        seenInSync += joined.timeline.events.filter((event) =>
          event.content.body?.startsWith(prefix),
        ).length;
      }
    }
    return performance.now();
  };
  const syncedAll = syncUntil(leanB, 'message', N);
  const serverCpuStart = { a: processCpuMs(a.pid), b: processCpuMs(b.pid) };
  const txnsBefore = transactionsOnB(b.dataDir);
  const start = performance.now();
  const benchCpuStart = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const response = await leanA.request(
          'PUT',
          `/_matrix/client/v3/rooms/${room}/send/m.room.message/b${i}`,
          alice.accessToken,
          JSON.stringify({ msgtype: 'm.text', body: `message ${i}` }),
        );
        if (response.status !== 200) throw new Error(`send failed: ${response.status}`);
      }
    }),
  );
  const sent = performance.now();
  const done = await syncedAll;
  const benchCpu = process.cpuUsage(benchCpuStart);
  const serverCpu = {
    a: processCpuMs(a.pid) - serverCpuStart.a,
    b: processCpuMs(b.pid) - serverCpuStart.b,
  };
  if (gaps > 0) throw new Error(`${gaps} limited timelines: events skipped by sync`);
  // The same events, read back from B's history as well.
  const stored = await countOnB();
  if (stored !== N) throw new Error(`B's /messages shows ${stored} of ${N} events`);
  const seconds = (done - start) / 1000;
  const txns = transactionsOnB(b.dataDir) - txnsBefore;
  console.log(
    `federation throughput: ${N} events sent on A, seen in /sync on B in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} events/s ` +
      `(sending on A: ${((sent - start) / 1000).toFixed(2)} s; CPU per event: A ${(serverCpu.a / N).toFixed(2)} ms, ` +
      `B ${(serverCpu.b / N).toFixed(2)} ms; ${txns} transactions, ${(N / txns).toFixed(1)} PDUs each; bench client CPU ${((benchCpu.user + benchCpu.system) / 1e6).toFixed(2)} s; target ≥ 500 events/s)`,
  );

  // Phase 2: federation alone — a backlog of N queued on A, delivered when B comes back.
  leanA.close();
  leanB.close();
  const bDataDir = b.dataDir;
  await b.stop();
  for (let i = 0; i < N; i++) {
    const response = await clientA.request(
      'PUT',
      `/_matrix/client/v3/rooms/${room}/send/m.room.message/q${i}`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: `queued ${i}` } },
    );
    if (response.status !== 200) throw new Error(`send failed: ${response.status}`);
  }
  b = await spawnServer({
    serverName: 'b.test',
    port: ports.b,
    dataDir: bDataDir,
    nodeFlags: profFlags('b-catch-up'),
  });
  const clientB2 = new TestClient(b.url);
  const leanB2 = leanHttpClient(b.url);
  const cpuA = processCpuMs(a.pid);
  const txnsBeforeCatchUp = transactionsOnB(b.dataDir);
  const cpuB = processCpuMs(b.pid);
  const drainStart = performance.now();
  // Any request from B tells A that B is back (A's /send handler wakes its queue for B).
  await clientB2.request('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/wake`, {
    token: bob.accessToken,
    body: { msgtype: 'm.text', body: 'back' },
  });
  // Watched through a long-polling /sync (as above), not by paging /messages over and over:
  // that cost B more CPU than the catch-up itself.
  const drained = await syncUntil(leanB2, 'queued', N);
  leanB2.close();
  const drainSeconds = (drained - drainStart) / 1000;
  const cpuAfterA = processCpuMs(a.pid);
  const cpuAfterB = processCpuMs(b.pid);
  const catchUpTxns = transactionsOnB(b.dataDir) - txnsBeforeCatchUp;
  if (gaps > 0) throw new Error(`${gaps} limited timelines: events skipped by sync`);
  const storedQueued = await countOnB(clientB2, 'queued');
  if (storedQueued !== N) throw new Error(`B's /messages shows ${storedQueued} of ${N} queued`);
  console.log(
    `federation catch-up: ${N} queued events A→B in ${drainSeconds.toFixed(2)} s = ` +
      `${Math.round(N / drainSeconds)} events/s (CPU: A ${((cpuAfterA - cpuA) / 1000).toFixed(2)} s, ` +
      `B ${((cpuAfterB - cpuB) / 1000).toFixed(2)} s; ${catchUpTxns} transactions)`,
  );
} finally {
  await Promise.all([a.stop(), b.stop()]);
}
