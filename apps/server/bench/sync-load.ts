/**
 * The homeserver's load benchmark (issue 5's targets), against a real server process with a
 * SQLite data directory, driven over HTTP:
 *
 * 1. delivery: `CLIENTS` clients long-poll `/sync` across `ROOMS` rooms while one sender per
 *    room sends — its next event as soon as the last is answered (closed loop, the default), or
 *    on a fixed schedule at an offered rate (open loop, `rate`); prints send throughput
 *    (events/s) and send→sync delivery latency (p50/p99, from the start of the send request, or
 *    its scheduled time, to the event's arrival in each member's sync);
 * 2. initial sync of a user in `BIG_ROOMS` rooms;
 * 3. the server's resident set size after all of it (`VmRSS`).
 *
 * The delivery figures are those of a warm server: `WARMUP` events are sent and delivered the
 * same way first, and their own figures printed beside as the cold start's.
 *
 * Figures are printed, never asserted (benchmarks don't test). Sizes can be lowered with
 * environment variables for a quick run: WEFT_BENCH_CLIENTS, WEFT_BENCH_MESSAGES,
 * WEFT_BENCH_WARMUP (0: none), WEFT_BENCH_BIG_ROOMS; WEFT_BENCH_RATE sets an offered rate
 * (events/s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildServer } from './build.ts';
import { machineLine, machineTimes } from './host-speed.ts';
import { leanHttpClient } from './lean-http.ts';
import { rssMiB } from './memory.ts';
import { pool } from './pool.ts';
import { cpuSeconds, mainThreadCpuSeconds } from './proc.ts';

const CLIENTS = Number(process.env['WEFT_BENCH_CLIENTS'] ?? 100);
const ROOMS = 10;
const MESSAGES = Number(process.env['WEFT_BENCH_MESSAGES'] ?? 3000);
/** Events sent before the measured ones, to warm the server up (see `runPhase`'s caller). */
const WARMUP = warmupFromEnv();
/** The window over which the server must be quiet before sending starts (`serverQuiet`). */
const QUIET_MS = 300;
/** Under 10% of a core over `QUIET_MS`: at most 2 of its 30 ticks of 10 ms. */
const QUIET_TICKS = 2;
const BIG_ROOMS = Number(process.env['WEFT_BENCH_BIG_ROOMS'] ?? 1000);

type Json = Record<string, unknown>;

const LIMIT_FILTER = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1000 } } }));

interface User {
  readonly userId: string;
  readonly token: string;
}

async function startServer(
  dataDir: string,
  floor: boolean,
): Promise<{ url: string; child: ChildProcess }> {
  writeFileSync(
    join(dataDir, 'weft.yaml'),
    'server_name: bench.local\nrate_limit:\n  per_second: 1000000\n  burst: 1000000\nlog_level: info\n' +
      // WEFT_BENCH_ANSWER_INTERVAL_MS: the server's sync.answer_interval_ms (its default if unset).
      (process.env['WEFT_BENCH_ANSWER_INTERVAL_MS'] === undefined
        ? ''
        : `sync:\n  answer_interval_ms: ${Number(process.env['WEFT_BENCH_ANSWER_INTERVAL_MS'])}\n`),
  );
  if (!floor) buildServer();
  const here = dirname(fileURLToPath(import.meta.url));
  // The `weft-server` command, as a person runs it (the build, with its Node flags); or the floor.
  const main = floor ? join(here, 'floor-server.ts') : resolve(here, '../bin/weft-server.js');
  const child = spawn(
    process.execPath,
    [
      // WEFT_BENCH_PROFILE=DIR writes the server's CPU profile there (for finding hot spots).
      // WEFT_BENCH_NODE_FLAGS (space-separated): extra Node/V8 flags for the server process.
      ...(process.env['WEFT_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((flag) => flag !== ''),
      ...(process.env['WEFT_BENCH_PROFILE']
        ? [`--cpu-prof-dir=${process.env['WEFT_BENCH_PROFILE']}`, '--cpu-prof']
        : []),
      main,
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
    ],
    // The build made just now, even if someone edits src/ while the benchmark runs.
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, WEFT_SERVER_SOURCE: '0' } },
  );
  const url = await new Promise<string>((ok, fail) => {
    let buffer = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /"msg":"listening","url":"([^"]+)"/.exec(buffer);
      if (match?.[1] !== undefined) ok(match[1]);
    });
    child.once('exit', () => fail(new Error(`server exited: ${buffer}`)));
  });
  return { url, child };
}

/**
 * The load generator's client: lean-http.ts (keep-alive `node:net` sockets, requests written as
 * one string, responses parsed minimally) — it runs on the same two cores as the server, so its
 * CPU is taken from what it measures. Each concurrent request holds its own connection, as each
 * long-polling Matrix client does. Bodies are JSON; any status but 200 is an error, except the
 * 401 that carries a UIA session (register's first step).
 */
function client(base: string) {
  const http = leanHttpClient(base);
  return async (method: string, path: string, token?: string, body?: unknown): Promise<Json> => {
    const response = await http.request(
      method,
      path,
      token,
      body === undefined ? undefined : JSON.stringify(body),
    );
    const json = JSON.parse(response.text) as Json;
    if (response.status !== 200 && !(response.status === 401 && 'session' in json)) {
      throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    }
    return json;
  };
}

/**
 * The number in environment variable `name`, or `undefined` when it is unset or empty; a value
 * that is not `what` (checked by `valid`) stops the benchmark with an error naming it.
 */
function numberFromEnv(
  name: string,
  valid: (value: number) => boolean,
  what: string,
): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!valid(number)) throw new Error(`${name} must be ${what}, not ${value}`);
  return number;
}

/** `WEFT_BENCH_WARMUP` as a whole number of events (default 1,000; 0: no warm-up). */
function warmupFromEnv(): number {
  const valid = (events: number) => Number.isInteger(events) && events >= 0;
  return numberFromEnv('WEFT_BENCH_WARMUP', valid, 'a whole number of events') ?? 1000;
}

/** `WEFT_BENCH_RATE` as a positive number of events per second, or `undefined` (closed loop). */
function rateFromEnv(): number | undefined {
  return numberFromEnv('WEFT_BENCH_RATE', (rate) => rate > 0, 'a positive number');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The delivery figures of one run. */
export interface DeliveryFigures {
  readonly eventsPerSecond: number;
  readonly p99Ms: number;
  readonly serverCpuMsPerEvent: number;
}

/**
 * Waits until the server process has used less than 10% of a core over the last `QUIET_MS` (at
 * most 10 s, then says so: the figures would include set-up work): the work that set-up left
 * behind is done.
 */
async function serverQuiet(pid: number): Promise<void> {
  const given = performance.now();
  // /proc counts CPU time in ticks of 10 ms (`statCpu` divides by 100): compare whole ticks.
  const ticks = () => {
    const { user, system } = cpuSeconds(pid);
    return Math.round((user + system) * 100);
  };
  let before = ticks();
  while (performance.now() - given < 10_000) {
    await new Promise((ok) => setTimeout(ok, QUIET_MS));
    const now = ticks();
    if (now - before <= QUIET_TICKS) return;
    before = now;
  }
  console.log('  (the server did not go quiet within 10 s of set-up: sending anyway)');
}

/**
 * Runs the benchmark against weft-server, or with `floor` against floor-server.ts (delivery
 * only: the same load on a server that does nothing but HTTP and long-polling). With `rate`
 * (or WEFT_BENCH_RATE), events are offered at that many per second (open loop) instead of each
 * sender sending its next event when the last is answered (closed loop: the server's ceiling).
 * `deliveryOnly` skips the initial-sync and RSS parts (a second run needs them once).
 */
export async function runSyncLoadBench(
  options: { floor?: boolean; rate?: number; deliveryOnly?: boolean } = {},
): Promise<DeliveryFigures> {
  const floor = options.floor === true;
  const dataDir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const { url, child } = await startServer(dataDir, floor);
  const pid = child.pid as number;
  const call = client(url);
  try {
    // Registration needs a password (the account must be able to pass UIA later); its scrypt
    // runs during set-up, before anything is measured.
    const register = async (i: number): Promise<User> => {
      const username = `u${i}`;
      const password = `bench password ${i}`;
      const challenge = await call('POST', '/_matrix/client/v3/register', undefined, {
        username,
        password,
      });
      const done = await call('POST', '/_matrix/client/v3/register', undefined, {
        username,
        password,
        auth: { type: 'm.login.dummy', session: challenge['session'] },
      });
      return { userId: String(done['user_id']), token: String(done['access_token']) };
    };
    const users = await pool(CLIENTS, 8, register);
    const perRoom = Math.ceil(CLIENTS / ROOMS);
    const rooms = await pool(ROOMS, 4, async (r) => {
      const members = users.slice(r * perRoom, (r + 1) * perRoom);
      const owner = members[0] as User;
      const room = await call('POST', '/_matrix/client/v3/createRoom', owner.token, {
        preset: 'public_chat',
      });
      const roomId = String(room['room_id']);
      for (const member of members.slice(1)) {
        await call('POST', `/_matrix/client/v3/join/${roomId}`, member.token, {});
      }
      return { roomId, owner, members };
    });

    // 1. Delivery under load: a warm-up, then the measured run, each sent and delivered whole.
    /** One run of sends: what its events' deliveries and answers count into. */
    interface Phase {
      readonly sentAt: Map<string, number>;
      readonly latencies: number[];
      readonly expected: number;
      delivered: number;
      /** Sync answers that carried at least one of its events (pacing batches them). */
      answers: number;
      allDelivered: () => void;
    }
    let phase: Phase | undefined;
    let stop = false;
    // Sending starts only once every client holds its initial-sync token, so every event falls
    // into an incremental sync that this loop counts (a fixed sleep let late initial syncs
    // swallow early events, which then looked lost).
    const syncLoop = async (user: User, ready: () => void) => {
      let since = String(
        (await call('GET', '/_matrix/client/v3/sync?timeout=0', user.token))['next_batch'],
      );
      ready();
      while (!stop) {
        const response = await call(
          'GET',
          // A timeline limit above any backlog, so every event arrives (no `limited` gaps).
          `/_matrix/client/v3/sync?timeout=30000&since=${since}&filter=${LIMIT_FILTER}`,
          user.token,
        );
        since = String(response['next_batch']);
        const now = performance.now();
        const current = phase;
        if (current === undefined) continue;
        const before = current.delivered;
        const join = ((response['rooms'] as Json | undefined)?.['join'] ?? {}) as Json;
        for (const room of Object.values(join)) {
          for (const event of ((room as Json)['timeline'] as { events: Json[] }).events) {
            const id = (event['content'] as Json | undefined)?.['body'];
            const start = typeof id === 'string' ? current.sentAt.get(id) : undefined;
            if (start === undefined) continue;
            current.latencies.push(now - start);
            if (++current.delivered === current.expected) current.allDelivered();
          }
        }
        if (current.delivered > before) current.answers++;
      }
    };
    let readyCount = 0;
    let allReady: () => void = () => {};
    const everyoneReady = new Promise<void>((ok) => {
      allReady = ok;
    });
    const loops = users.map((user) =>
      syncLoop(user, () => {
        if (++readyCount === users.length) allReady();
      }),
    );
    await everyoneReady;
    // Each client's first sync set its presence online (spec "Presence": `set_presence` defaults
    // to online), and each change wakes its room-mates' long-polls: 100 clients signing on
    // together leave the server a few hundred ms of presence work after the last initial sync
    // was answered. Sending starts once that is done (the server's threads used less than 10% of
    // a core over QUIET_MS), so the figures are those of the sending load alone.
    await serverQuiet(pid);
    // WEFT_BENCH_RATE (events/s): an offered load instead of sending as fast as answers come.
    const rate = options.rate ?? rateFromEnv();

    /** Sends `count` events (ids `${prefix}…`) and waits for every member to receive them. */
    const runPhase = async (count: number, prefix: string) => {
      let allDelivered: () => void = () => {};
      const done = new Promise<void>((ok) => {
        allDelivered = ok;
      });
      // Every member of a room, the sender included, receives each of its events.
      const current: Phase = {
        sentAt: new Map(),
        latencies: [],
        expected: count * perRoom,
        delivered: 0,
        answers: 0,
        allDelivered,
      };
      phase = current;
      // The send request alone (start to its 200), to tell the send path's share of delivery.
      const sendLatencies: number[] = [];
      const perSender = Math.ceil(count / ROOMS);
      const sendStart = performance.now();
      const cpuStart = cpuSeconds(pid);
      const mainStart = mainThreadCpuSeconds(pid);
      const benchCpuStart = process.cpuUsage();
      const machineStart = machineTimes();
      const send = async (roomId: string, owner: User, id: string, start: number) => {
        current.sentAt.set(id, start);
        await call(
          'PUT',
          `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/${id}`,
          owner.token,
          { msgtype: 'm.text', body: id },
        );
        sendLatencies.push(performance.now() - start);
      };
      await Promise.all(
        rooms.map(async ({ roomId, owner }, r) => {
          if (rate === undefined) {
            // Closed loop: each sender sends its next event when the last one is answered.
            for (let i = 0; i < perSender && r * perSender + i < count; i++) {
              await send(roomId, owner, `${prefix}r${r}m${i}`, performance.now());
            }
            return;
          }
          // Open loop: events leave on a fixed schedule whatever the answers do, and latency is
          // counted from the scheduled time, so a late sender cannot hide a slow server.
          const gapMs = (ROOMS * 1000) / rate;
          const sends: Promise<void>[] = [];
          // A failed send is kept until the schedule ends: left unobserved while the loop
          // sleeps, its rejection would end the process before `finally` stops the server.
          let failure: unknown;
          for (let i = 0; i < perSender && r * perSender + i < count; i++) {
            const due = sendStart + (r / ROOMS + i) * gapMs;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
            if (failure !== undefined) throw failure;
            sends.push(
              send(roomId, owner, `${prefix}r${r}m${i}`, due).catch((error: unknown) => {
                failure ??= error;
              }),
            );
          }
          await Promise.all(sends);
          if (failure !== undefined) throw failure;
        }),
      );
      const sendSeconds = (performance.now() - sendStart) / 1000;
      await Promise.race([done, new Promise((ok) => setTimeout(ok, 60_000))]);
      const deliverSeconds = (performance.now() - sendStart) / 1000;
      const cpuEnd = cpuSeconds(pid);
      const mainCpu = mainThreadCpuSeconds(pid) - mainStart;
      const serverSystem = cpuEnd.system - cpuStart.system;
      const benchCpu = process.cpuUsage(benchCpuStart);
      const machine = machineLine(machineStart);
      phase = undefined;
      current.latencies.sort((a, b) => a - b);
      sendLatencies.sort((a, b) => a - b);
      return {
        ...current,
        sendLatencies,
        sendSeconds,
        deliverSeconds,
        serverCpu: cpuEnd.user - cpuStart.user + serverSystem,
        serverSystem,
        mainCpu,
        benchCpu: (benchCpu.user + benchCpu.system) / 1e6,
        machine,
      };
    };
    const latencyLine = (latencies: readonly number[]) =>
      `p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (p90 ${percentile(latencies, 90).toFixed(1)}, p95 ${percentile(latencies, 95).toFixed(1)}, p98 ${percentile(latencies, 98).toFixed(1)}, max ${(latencies.at(-1) ?? Number.NaN).toFixed(1)})`;

    // The warm-up: a server that has just started runs its first sends and answers cold (their
    // code not yet optimized, the set-up's garbage collected under the first load), which the
    // first few hundred ms of a run pay for. A running server is warm, so the figures are those
    // of the run after it; the warm-up's own are printed too (ARCHITECTURE.md, record "session 18
    // — the sync load's warm-up").
    const server = floor ? 'floor (node:http, in memory)' : 'weft-server';
    const offered = rate === undefined ? 'as fast as answered' : `offered at ${rate} events/s`;
    const warmup = WARMUP > 0 ? `, after ${WARMUP} the same way as a warm-up` : '';
    console.log(
      `delivery, ${server}: ${CLIENTS} clients syncing in ${ROOMS} rooms, ${MESSAGES} events sent ${offered}${warmup}`,
    );
    if (WARMUP > 0) {
      const warm = await runPhase(WARMUP, 'w');
      console.log(
        `  warm-up (cold start) ${(WARMUP / warm.sendSeconds).toFixed(0)} events/s, ${warm.delivered}/${warm.expected} delivered in ${warm.answers} answers (${(warm.answers / WARMUP).toFixed(1)} per event), server CPU ${((warm.serverCpu / WARMUP) * 1000).toFixed(2)} ms per event (main thread ${((warm.mainCpu / WARMUP) * 1000).toFixed(2)}); send→sync latency ${latencyLine(warm.latencies)}`,
      );
    }
    const run = await runPhase(MESSAGES, '');
    stop = true;
    const { latencies, sendLatencies, sendSeconds, deliverSeconds, serverCpu, serverSystem } = run;
    console.log(`  send throughput      ${(MESSAGES / sendSeconds).toFixed(0)} events/s`);
    console.log(
      `  delivered            ${run.delivered}/${run.expected} in ${deliverSeconds.toFixed(2)} s (${(run.delivered / deliverSeconds).toFixed(0)} deliveries/s) in ${run.answers} answers (${(run.answers / MESSAGES).toFixed(1)} per event)`,
    );
    console.log(`  send→sync latency    ${latencyLine(latencies)}`);
    console.log(
      `  send request         p50 ${percentile(sendLatencies, 50).toFixed(1)} ms, p99 ${percentile(sendLatencies, 99).toFixed(1)} ms`,
    );
    console.log(
      `  server CPU           ${serverCpu.toFixed(1)} s in ${deliverSeconds.toFixed(1)} s wall = ${((serverCpu / MESSAGES) * 1000).toFixed(2)} ms per event (${(MESSAGES / serverCpu).toFixed(0)} events per server CPU-second; system ${((serverSystem / MESSAGES) * 1000).toFixed(2)} ms of it; main thread ${((run.mainCpu / MESSAGES) * 1000).toFixed(2)} ms, ${((100 * run.mainCpu) / deliverSeconds).toFixed(0)}% busy); bench clients ${run.benchCpu.toFixed(1)} s`,
    );
    if (run.machine !== undefined) console.log(`  machine              ${run.machine}`);
    // Wake the long-polls so they finish.
    await call(
      'PUT',
      `/_matrix/client/v3/rooms/${rooms[0]?.roomId}/send/m.room.message/end`,
      rooms[0]?.owner.token,
      {
        msgtype: 'm.text',
        body: 'end',
      },
    );
    await Promise.all(loops.map((loop) => loop.catch(() => {})));
    const figures = {
      eventsPerSecond: MESSAGES / sendSeconds,
      p99Ms: percentile(latencies, 99),
      serverCpuMsPerEvent: (serverCpu / MESSAGES) * 1000,
    };
    if (floor || options.deliveryOnly === true) return figures;

    // 2. Initial sync in many rooms.
    const big = users[0] as User;
    await pool(BIG_ROOMS, 4, () =>
      call('POST', '/_matrix/client/v3/createRoom', big.token, { preset: 'private_chat' }),
    );
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      await call('GET', '/_matrix/client/v3/sync', big.token);
      times.push(performance.now() - start);
    }
    console.log(
      `initial sync in ${BIG_ROOMS + 1} rooms: ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')}`,
    );

    // 3. Memory.
    console.log(
      `server RSS: ${rssMiB(pid).toFixed(0)} MiB (${CLIENTS} users, ${ROOMS + BIG_ROOMS} rooms)`,
    );
    return figures;
  } finally {
    child.kill('SIGTERM');
    await new Promise((ok) => child.once('exit', ok));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
