/**
 * `weft-server` runs the tsup build (bin/weft-server.js → dist/main.js): it starts from a fresh
 * build, re-executes itself with its V8 flags and malloc setting (same PID), serves requests, opens a data
 * directory the source-mode server created (migrations are recorded under the same names) and
 * shuts down gracefully on SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

import { afterEach, describe, expect, it } from 'vitest';

import { buildServer } from '../bench/build.ts';
import { TestClient } from './harness.ts';
import { type SpawnedServer, spawnServer } from './spawn.ts';

let running: SpawnedServer | undefined;
afterEach(async () => {
  await running?.kill();
  running = undefined;
});

/**
 * Builds and starts the bin with `process.execve` taken away by a preload (as on Node
 * 22.0–22.14): the server then runs in the bin's one child process, whose PID is returned.
 */
async function startWithoutExecve(
  serverName: string,
): Promise<{ server: SpawnedServer; child: string }> {
  buildServer();
  const server = await spawnServer({
    serverName,
    built: true,
    env: { NODE_OPTIONS: '--import=data:text/javascript,process.execve=undefined' },
  });
  running = server;
  const children = readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8')
    .trim()
    .split(' ')
    .filter((pid) => pid !== '');
  // Exactly one child: a missing one would make a caller's `process.kill(0)` hit the test's own
  // process group.
  expect(children).toHaveLength(1);
  return { server, child: children[0] as string };
}

describe('the built weft-server', () => {
  it('serves a data directory made by the source-mode server, then stops on SIGTERM', async () => {
    const source = await spawnServer({ serverName: 'built.test' });
    running = source;
    const before = new TestClient(source.url);
    const alice = await before.registerUser('alice');
    expect(await source.stop()).toBe(0);

    buildServer();
    const built = await spawnServer({
      dataDir: source.dataDir,
      serverName: 'built.test',
      built: true,
    });
    running = built;
    // The bin replaced itself with `node --max-semi-space-size=4 --memory-balancer …` (same PID).
    const commandLine = readFileSync(`/proc/${built.pid}/cmdline`, 'utf8').split('\0');
    expect(commandLine).toContain('--max-semi-space-size=4');
    expect(commandLine).toContain('--memory-balancer');
    // The balancer's `c` below V8's default (3e-10): more head-room while busy, so fewer full
    // collections stall requests (a tighter one, 3e-9, made one every ≈ 0.3 s).
    expect(commandLine).toContain('--memory-balancer-c-value=1e-11');
    // The hot paths reach TurboFan within the first 1,000 events of a load, not 6,000–7,000 in.
    expect(commandLine).toContain('--invocation-count-for-turbofan=500');
    // Optimizing compiles stay on V8's background threads (a compile on the main thread stalls
    // every request behind it).
    expect(commandLine).not.toContain('--no-concurrent-recompilation');
    // V8's gc extension under the name src/idle-memory.ts looks for.
    expect(commandLine).toContain('--expose-gc-as=__weftGc');
    // V8's helper threads: one core fewer than the machine's, at most 4.
    const helpers = Math.max(1, Math.min(4, availableParallelism() - 1));
    expect(commandLine).toContain(`--v8-pool-size=${helpers}`);
    expect(commandLine.some((arg) => arg.endsWith('bin/weft-server.js'))).toBe(true);
    expect(built.output()).not.toContain('running from source');
    // …with glibc's mmap threshold fixed, so scrypt's freed 16 MiB buffers leave the process.
    const environment = readFileSync(`/proc/${built.pid}/environ`, 'utf8').split('\0');
    expect(environment).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    // …and its trim threshold raised, so freed memory is not handed back and asked for again.
    expect(environment).toContain('MALLOC_TRIM_THRESHOLD_=4194304');

    const after = new TestClient(built.url);
    const whoami = await after.request('GET', '/_matrix/client/v3/account/whoami', {
      token: alice.accessToken,
    });
    expect(whoami.status).toBe(200);
    expect(whoami.body['user_id']).toBe('@alice:built.test');
    const created = await after.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: { name: 'from the build' },
    });
    expect(created.status).toBe(200);
    expect(await built.stop()).toBe(0);
    // A tsup build and two server starts: more than vitest's default 5 s on a loaded machine.
  }, 60_000);

  it('starts the build with its flags in a child process where Node has no process.execve', async () => {
    // Node 22.0–22.14 (which `"engines": ">=22"` allows) lacks `process.execve`: a preload takes
    // it away here, and the bin must still start the server with its flags and malloc settings.
    const { server, child } = await startWithoutExecve('child.test');
    const commandLine = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
    expect(commandLine).toContain('--max-semi-space-size=4');
    expect(commandLine).toContain('--invocation-count-for-turbofan=500');
    expect(commandLine).toContain('--expose-gc-as=__weftGc');
    expect(commandLine.some((arg) => arg.endsWith('bin/weft-server.js'))).toBe(true);
    const environment = readFileSync(`/proc/${child}/environ`, 'utf8').split('\0');
    expect(environment).toContain('MALLOC_MMAP_THRESHOLD_=131072');
    expect(environment).toContain('MALLOC_TRIM_THRESHOLD_=4194304');
    // The child imported the build itself (it has every flag), and started no third process.
    expect(readFileSync(`/proc/${child}/task/${child}/children`, 'utf8').trim()).toBe('');
    const client = new TestClient(server.url);
    expect((await client.registerUser('carol')).userId).toBe('@carol:child.test');
    // SIGTERM to the command reaches the server: a graceful exit, passed on as the exit code.
    expect(await server.stop()).toBe(0);
  }, 60_000);

  it('exits as a shell reports it when the server in its child process is killed by a signal', async () => {
    const { server, child } = await startWithoutExecve('child-killed.test');
    const exited = new Promise<number | null>((resolveExit) =>
      server.process.once('exit', (code) => resolveExit(code)),
    );
    process.kill(Number(child), 'SIGKILL');
    // 128 + 9, not the bare 128 that hid which signal it was.
    expect(await exited).toBe(137);
  }, 60_000);

  it('runs the TypeScript source when told to, re-executing itself with its flags (same PID)', async () => {
    // WEFT_SERVER_SOURCE=1 takes the path a missing or stale build takes: `process.execve` into
    // `node --conditions=weft-source <flags> src/main.ts`, so signals reach the server itself.
    const server = await spawnServer({
      serverName: 'source.test',
      built: true,
      env: { WEFT_SERVER_SOURCE: '1' },
    });
    running = server;
    const commandLine = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
    expect(commandLine).toContain('--conditions=weft-source');
    expect(commandLine).toContain('--max-semi-space-size=4');
    expect(commandLine).toContain('--invocation-count-for-turbofan=500');
    expect(commandLine.some((arg) => arg.endsWith('src/main.ts'))).toBe(true);
    expect(commandLine.some((arg) => arg.endsWith('bin/weft-server.js'))).toBe(false);
    const client = new TestClient(server.url);
    const bob = await client.registerUser('bob');
    expect(bob.userId).toBe('@bob:source.test');
    // SIGTERM reaches the server (no wrapper process in between): a graceful exit.
    expect(await server.stop()).toBe(0);
  }, 60_000);
});
