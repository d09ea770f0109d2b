/**
 * `npm run bench -w apps/server`: the homeserver against issue 5's targets, on real server
 * processes over loopback HTTP (never part of the test run):
 * 1. sync-load.ts — 100 clients long-polling /sync across 10 rooms while senders send:
 *    throughput (events/s) and send→sync delivery latency p50/p99 with each sender sending as
 *    fast as it is answered (the server's ceiling), then with events offered at 1,000 a second
 *    (latency at the target rate) — each run measured after a 1,000-event warm-up whose own
 *    figures are printed as the cold start's, and judged against the targets warm; the initial
 *    sync of a user in 1,000 rooms once (after those 4,000 events); then the
 *    same delivery load against floor-server.ts (node:http and
 *    long-polling, nothing else), to show what share of a Node server's floor weft-server reaches;
 * 2. memory.ts — server RSS with 1,000 users and 1,000 rooms;
 * 3. federation-join.ts — issue 6: joining a room of WEFT_BENCH_JOIN_STATE (30,000) state
 *    events hosted on another server, every signature checked (target < 5 s), by phase;
 * 4. federation-throughput.ts — issue 6: events/s from sends on A to B's /sync (target ≥ 500),
 *    and a queued backlog's catch-up (its own processes; WEFT_BENCH_FEDERATION_EVENTS, 2,000).
 * Targets: ≥ 1,000 events/s with p99 < 50 ms; initial sync in 1,000 rooms < 1 s; RSS < 150 MB.
 * The machine is shared (2 cores); figures vary from run to run, with the host's speed, which is
 * printed before and after the delivery runs (host-speed.ts).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { runFederationJoinBench } from './federation-join.ts';
import { hostSpeedLine } from './host-speed.ts';
import { runMemoryBench } from './memory.ts';
import { runSyncLoadBench } from './sync-load.ts';

console.log(
  'weft-server benchmark (targets: ≥1000 events/s, p99 < 50 ms, initial sync < 1 s, RSS < 150 MB)',
);
console.log(`${hostSpeedLine('before')}\n`);
const weft = await runSyncLoadBench();
console.log('');
// The same load offered at the target rate (open loop): the latency a server that keeps up gives.
await runSyncLoadBench({ rate: 1000, deliveryOnly: true });
console.log('');
const floor = await runSyncLoadBench({ floor: true });
console.log(
  `weft-server / floor: ${(weft.eventsPerSecond / floor.eventsPerSecond).toFixed(2)}× the events/s, ${(weft.serverCpuMsPerEvent / floor.serverCpuMsPerEvent).toFixed(1)}× the server CPU per event\n`,
);
console.log(`${hostSpeedLine('after the delivery runs')}\n`);
await runMemoryBench();
console.log('');
await runFederationJoinBench();
console.log('');
// A script of its own (top-level await over two server processes): run as it is run by hand.
const throughput = spawnSync(
  process.execPath,
  [
    '--conditions=weft-source',
    fileURLToPath(new URL('./federation-throughput.ts', import.meta.url)),
    process.env['WEFT_BENCH_FEDERATION_EVENTS'] ?? '2000',
  ],
  { stdio: 'inherit' },
);
// A failed run must not look like a finished benchmark.
if (throughput.status !== 0) process.exitCode = throughput.status ?? 1;
