/**
 * Federation throughput (issue 6 target: ≥ 500 events/s): two `weft-server` PROCESSES on
 * loopback with real TLS (certificates from test/federation-harness.ts's throwaway CA), a room
 * on A joined from B; N messages sent on A by 20 concurrent client requests; the clock runs from
 * the first send until all N are readable from B's client API (`/messages`).
 *
 * Run: `node --conditions=weft-source bench/federation-throughput.ts [N]` from apps/server.
 */
import { readFileSync } from 'node:fs';

import { createTestCa, federationConfigYaml, issueCert } from '../test/federation-harness.ts';
import { TestClient } from '../test/harness.ts';
import { freePort, spawnServer } from '../test/spawn.ts';

const N = Number(process.argv[2] ?? 1000);

/** CPU time (user + system) a process has used so far, from /proc (ms). */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}
const CONCURRENCY = 20;

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
  }),
  spawnServer({
    serverName: 'b.test',
    port: ports.b,
    configYaml: federationConfigYaml(ca, issueCert(ca, 'b.test'), ports.fb, hosts),
  }),
]);
let b = firstB;
try {
  const clientA = new TestClient(a.url);
  const clientB = new TestClient(b.url);
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
  const countOnB = async (client = clientB, prefix = 'message'): Promise<number> => {
    const response = await client.request<{
      chunk: Array<{ type: string; content: { body?: string } }>;
    }>('GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=${N + 50}`, {
      token: bob.accessToken,
    });
    return response.body.chunk.filter(
      (event) => event.type === 'm.room.message' && event.content.body?.startsWith(prefix),
    ).length;
  };
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const response = await clientA.request(
          'PUT',
          `/_matrix/client/v3/rooms/${room}/send/m.room.message/b${i}`,
          { token: alice.accessToken, body: { msgtype: 'm.text', body: `message ${i}` } },
        );
        if (response.status !== 200) throw new Error(`send failed: ${response.status}`);
      }
    }),
  );
  const sent = performance.now();
  while ((await countOnB()) < N) await new Promise((resolve) => setTimeout(resolve, 100));
  const done = performance.now();
  const seconds = (done - start) / 1000;
  console.log(
    `federation throughput: ${N} events A→B in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} events/s ` +
      `(sending on A: ${((sent - start) / 1000).toFixed(2)} s; target ≥ 500 events/s)`,
  );

  // Phase 2: federation alone — a backlog of N queued on A, delivered when B comes back.
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
    // e.g. WEFT_BENCH_B_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles B's catch-up.
    nodeFlags: (process.env['WEFT_BENCH_B_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== ''),
  });
  const clientB2 = new TestClient(b.url);
  const cpuA = processCpuMs(a.pid);
  const cpuB = processCpuMs(b.pid);
  const drainStart = performance.now();
  // Any request from B tells A that B is back (A's /send handler wakes its queue for B).
  await clientB2.request('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/wake`, {
    token: bob.accessToken,
    body: { msgtype: 'm.text', body: 'back' },
  });
  while ((await countOnB(clientB2, 'queued')) < N) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;
  console.log(
    `federation catch-up: ${N} queued events A→B in ${drainSeconds.toFixed(2)} s = ` +
      `${Math.round(N / drainSeconds)} events/s (CPU: A ${((processCpuMs(a.pid) - cpuA) / 1000).toFixed(2)} s, ` +
      `B ${((processCpuMs(b.pid) - cpuB) / 1000).toFixed(2)} s)`,
  );
} finally {
  await Promise.all([a.stop(), b.stop()]);
}
