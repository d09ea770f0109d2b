/**
 * Server memory at issue 5's size: a weft-server process (test/spawn.ts) with 1,000 users and
 * 1,000 rooms (each user creates a room and the next user joins it), after every user has done an
 * initial sync so caches are warm. Prints the process's resident set size from
 * /proc/<pid>/status (VmRSS). Lower the sizes with WEFT_BENCH_USERS for a quick run;
 * WEFT_BENCH_NODE_FLAGS (space-separated) passes V8 flags to the server process, e.g.
 * `--max-semi-space-size=2` to see how much of the RSS is garbage-collector head-room.
 */
import { readFileSync, rmSync } from 'node:fs';

import { spawnServer } from '../test/spawn.ts';
import { buildServer } from './build.ts';

const USERS = Number(process.env['WEFT_BENCH_USERS'] ?? 1000);
const NODE_FLAGS = (process.env['WEFT_BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

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

/**
 * RSS as the issue counts it (MB = 10^6 bytes), and its two halves: anonymous memory (the V8 heap,
 * malloc: SQLite's page caches, compiler zones) and file-backed pages (mostly the `node` binary's
 * code and read-only data, shared with every other Node process).
 */
export function describeRss(pid: number): string {
  const rss = rssMiB(pid);
  return `${rss.toFixed(0)} MiB = ${((rss * 1048576) / 1e6).toFixed(0)} MB (anonymous ${statusMiB(pid, 'RssAnon').toFixed(0)} MiB, file-backed ${statusMiB(pid, 'RssFile').toFixed(0)} MiB)`;
}

async function pool<T>(
  count: number,
  limit: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** Runs the memory scenario and prints its figures; returns the RSS in MiB. */
export async function runMemoryBench(): Promise<number> {
  buildServer();
  const server = await spawnServer({
    serverName: 'mem.bench',
    startTimeoutMs: 60_000,
    nodeFlags: NODE_FLAGS,
    built: true,
  });
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
    // Registered without a password (no scrypt): the figure is about rooms and users, not KDFs.
    const tokens = await pool(USERS, 8, async (i) => {
      const challenge = await call('POST', '/_matrix/client/v3/register', undefined, {
        username: `m${i}`,
      });
      const done = await call('POST', '/_matrix/client/v3/register', undefined, {
        username: `m${i}`,
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
    const rss = rssMiB(server.pid);
    const described = describeRss(server.pid);
    console.log(
      `memory: ${USERS} users, ${USERS} rooms (${2 * USERS} joined members), each user synced once${NODE_FLAGS.length > 0 ? ` [node ${NODE_FLAGS.join(' ')}]` : ''}`,
    );
    console.log(
      `  server RSS           ${described}; idle at start ${idle.toFixed(0)} MiB (target < 150 MB)`,
    );
    console.log(`  set-up took          ${seconds.toFixed(1)} s`);
    return rss;
  } finally {
    await server.stop();
    rmSync(server.dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await runMemoryBench();
