/**
 * Server memory at issue 5's size: a weft-server process (test/spawn.ts) with 1,000 users and
 * 1,000 rooms (each user creates a room and the next user joins it), after every user has done an
 * initial sync so caches are warm. Prints the process's resident set size from
 * /proc/<pid>/status (VmRSS) right after the last sync, in MiB and in MB (the issue's unit:
 * 150 MB = 143 MiB), split into the `node` binary's file pages, the V8 heap and the rest of the
 * anonymous memory (malloc: SQLite, compiler zones, buffers); then again after the server has
 * been idle for WEFT_BENCH_SETTLE_SECONDS (default 10; the server returns memory after ≈ 4–6 s
 * of quiet, src/idle-memory.ts), which is the figure (0: the first reading is). WEFT_BENCH_RUNS
 * repeats the whole scenario with a fresh server (default 1) and prints the spread. Lower the sizes with WEFT_BENCH_USERS for a quick
 * run; WEFT_BENCH_NODE_FLAGS (space-separated) passes V8 flags to the server process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { spawnServer } from '../test/spawn.ts';
import { buildServer } from './build.ts';
import { pool } from './pool.ts';

const USERS = Number(process.env['WEFT_BENCH_USERS'] ?? 1000);
const NODE_FLAGS = (process.env['WEFT_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
const RUNS = Number(process.env['WEFT_BENCH_RUNS'] ?? 1);
const SETTLE_SECONDS = Number(process.env['WEFT_BENCH_SETTLE_SECONDS'] ?? 10);
const MiB = 1024 * 1024;

/**
 * Preloaded into the server process (`--import`): on SIGUSR2 it writes the V8 heap's committed
 * and used bytes to the file named by WEFT_MEMORY_PROBE_OUT. Read after RSS, so it perturbs
 * nothing measured.
 */
const PROBE = `import v8 from 'node:v8'; import { writeFileSync } from 'node:fs';
process.on('SIGUSR2', () => { const h = v8.getHeapStatistics();
  writeFileSync(process.env.WEFT_MEMORY_PROBE_OUT, JSON.stringify({ committed: h.total_physical_size, used: h.used_heap_size })); });`;

type Json = Record<string, unknown>;

/** A field of /proc/<pid>/status given in kB, in MiB. */
function statusMiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** VmRSS of a process, in MiB. */
export function rssMiB(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

/** MiB as the issue's MB (10^6 bytes). */
function mb(mib: number): string {
  return ((mib * MiB) / 1e6).toFixed(0);
}

/** The V8 heap's committed and used MiB, from the probe (`undefined` if it did not answer). */
async function v8HeapMiB(
  pid: number,
  out: string,
): Promise<{ committed: number; used: number } | undefined> {
  rmSync(out, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    try {
      const heap = JSON.parse(readFileSync(out, 'utf8')) as { committed: number; used: number };
      return { committed: heap.committed / MiB, used: heap.used / MiB };
    } catch {
      // Not written yet.
    }
  }
  return undefined;
}

/** One reading: RSS, and its split into file pages, the V8 heap and the rest (malloc). */
async function reading(pid: number, probeOut: string): Promise<{ rss: number; line: string }> {
  const rss = rssMiB(pid);
  const anon = statusMiB(pid, 'RssAnon');
  const file = statusMiB(pid, 'RssFile');
  const heap = await v8HeapMiB(pid, probeOut);
  const split =
    heap === undefined
      ? `anonymous ${anon.toFixed(0)} MiB`
      : `V8 heap ${heap.committed.toFixed(0)} MiB committed (${heap.used.toFixed(0)} used), other anonymous ${(anon - heap.committed).toFixed(0)} MiB`;
  return {
    rss,
    line: `${rss.toFixed(0)} MiB = ${mb(rss)} MB (file-backed ${file.toFixed(0)} MiB, ${split})`,
  };
}

/**
 * Runs the memory scenario once and prints its figures; returns the RSS in MiB, or `undefined`
 * when the server ran from source instead of the build (another process was rebuilding `dist/`
 * as it started: the source costs ≈ 30 MiB more and is not what `weft-server` runs).
 */
async function runOnce(): Promise<number | undefined> {
  const probeDir = mkdtempSync(join(tmpdir(), 'weft-mem-probe-'));
  const probeOut = join(probeDir, 'heap.json');
  process.env['WEFT_MEMORY_PROBE_OUT'] = probeOut;
  const server = await spawnServer({
    serverName: 'mem.bench',
    startTimeoutMs: 60_000,
    nodeFlags: [`--import=data:text/javascript,${encodeURIComponent(PROBE)}`, ...NODE_FLAGS],
    built: true,
  });
  if (server.output().includes('running from source')) {
    console.log('  (the server ran from source, not the build: reading discarded)');
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
    return undefined;
  }
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const response = await fetch(server.url + path, {
      method,
      headers: {
        ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await response.json()) as Json;
    if (response.status !== 200 && !(response.status === 401 && 'session' in json)) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    }
    return json;
  };
  try {
    const idle = rssMiB(server.pid);
    const started = performance.now();
    // Registered with a password, as people register (each account hashes it with scrypt).
    const tokens = await pool(USERS, 8, async (i) => {
      const password = `bench password ${i}`;
      const challenge = await call('POST', '/_matrix/client/v3/register', undefined, {
        username: `m${i}`,
        password,
      });
      const done = await call('POST', '/_matrix/client/v3/register', undefined, {
        username: `m${i}`,
        password,
        auth: { type: 'm.login.dummy', session: challenge['session'] },
      });
      return String(done['access_token']);
    });
    const roomIds = await pool(USERS, 4, async (i) => {
      const room = await call('POST', '/_matrix/client/v3/createRoom', tokens[i], {
        preset: 'public_chat',
        name: `room ${i}`,
      });
      return String(room['room_id']);
    });
    await pool(USERS, 4, async (i) => {
      const joiner = tokens[(i + 1) % USERS];
      await call(
        'POST',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomIds[i] ?? '')}/join`,
        joiner,
        {},
      );
    });
    await pool(USERS, 8, (i) => call('GET', '/_matrix/client/v3/sync?timeout=0', tokens[i]));
    const seconds = (performance.now() - started) / 1000;
    const after = await reading(server.pid, probeOut);
    console.log(
      `memory: ${USERS} users, ${USERS} rooms (${2 * USERS} joined members), each user synced once${NODE_FLAGS.length > 0 ? ` [node ${NODE_FLAGS.join(' ')}]` : ''}`,
    );
    console.log(
      `  server RSS           ${after.line}; idle at start ${idle.toFixed(0)} MiB (target < 150 MB)`,
    );
    console.log(`  set-up took          ${seconds.toFixed(1)} s`);
    // The figure: the server holding its 1,000 users and rooms once the set-up burst is over.
    // Quiet for a few seconds, the server gives back what the burst left (src/idle-memory.ts);
    // the reading right after the last sync, printed above, still holds that garbage.
    let rss = after.rss;
    if (SETTLE_SECONDS > 0) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
      const settled = await reading(server.pid, probeOut);
      console.log(`  after ${SETTLE_SECONDS} s idle       ${settled.line}`);
      rss = settled.rss;
    }
    return rss;
  } finally {
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
    rmSync(probeDir, { recursive: true, force: true });
  }
}

/**
 * Runs the memory scenario WEFT_BENCH_RUNS times, each on a fresh server (the reading depends on
 * where the GC cycle is, so one run says little); returns the highest RSS in MiB.
 */
export async function runMemoryBench(): Promise<number> {
  const readings: number[] = [];
  for (let attempt = 0; readings.length < RUNS && attempt < 3 * RUNS; attempt++) {
    buildServer();
    const rss = await runOnce();
    if (rss !== undefined) readings.push(rss);
  }
  if (readings.length === 0) throw new Error('memory bench: the server never ran from the build');
  if (RUNS > 1) {
    const sorted = [...readings].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    console.log(
      `memory over ${RUNS} runs: ${readings.map((r) => r.toFixed(0)).join(', ')} MiB; median ${median.toFixed(0)} MiB = ${mb(median)} MB, highest ${Math.max(...readings).toFixed(0)} MiB = ${mb(Math.max(...readings))} MB (target < 150 MB)`,
    );
  }
  return Math.max(...readings);
}

if (import.meta.main) await runMemoryBench();
