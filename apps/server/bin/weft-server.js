#!/usr/bin/env node
// The `weft-server` command. It runs the built server (`dist/main.js`, from
// `npm run build -w apps/server`) in this process: bundled JavaScript loads in a fraction of the
// time and memory that stripping the TypeScript source at start costs. V8's young generation is
// capped at 4 MiB per semi-space (SERVER_NODE_FLAGS): the default 16 MiB is garbage-collector
// head-room that a server holding little live data pays for in resident memory (apps/server
// README, benchmarks); 2 MiB made scavenges 22% of the sync load's CPU (15% at 4 MiB: 2.27–2.62
// against 3.25–3.79 ms per event in quiet paired runs, for 6–8 MiB more RSS; decision record of
// session 4, 09:30). The old generation's limit is set by V8's memory balancer: the default
// controller lets the old generation grow by at least 16 MiB past what survived the last full
// GC, which left 25–35 MiB of garbage in the memory bench; the balancer sizes that head-room
// from the allocation and GC rates (memory bench −10 to −20 MiB RSS; ARCHITECTURE.md, decision
// record of 07:30). Its `c` was 3e-9 then, V8's default (3e-10) from session 16, and is 1e-11
// since session 18: each full collection under the sync load (its marking slows the main
// thread for ≈ 100 ms, then a pause) left 50–115 of the slowest 1% of deliveries behind it, and
// a smaller `c` gives the old generation more head-room while the server is busy, so they come
// less often — 1 instead of 3–4 in the sync load's 3 s (3e-9 made one every ≈ 0.3 s); p99 lower
// in 7 of 8 alternated pairs. Memory when busy is a few MiB higher (158 against 154 MiB right
// after the memory bench's load) and the same once settled (124 MiB), since memory is given back
// when idle (src/idle-memory.ts) (ARCHITECTURE.md, record "session 18 — the memory balancer's
// c at 1e-11"). Optimizing compiles run on V8's background threads, as by default:
// session 4 moved them to the main thread (`--no-concurrent-recompilation`, for 8–20 MiB less
// RSS), but each compile then stalled every request behind it, most at the load's start; with
// memory given back when idle (src/idle-memory.ts) the memory bench reads 121–124 MiB with
// background compiles (116–117 without), and the sync load's p99 fell from 90–128 to 64–71 ms in
// alternated runs (ARCHITECTURE.md, record "session 15 — optimizing compiles back on background
// threads"). V8 reads these flags only at start, so the process re-executes itself with them
// (`process.execve`: same PID, no wrapper process; a child process with signals passed on where
// Node lacks `process.execve`, 22.0–22.14). Without a build — or when
// `src/` has changed since it, so a stale build never runs — it falls back to the source
// (Node ≥ 22.18 strips types; `--conditions=weft-source` resolves the workspace packages to their
// source too), also by re-executing itself.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, constants } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const root = resolve(dirname(self), '..');
const built = join(root, 'dist/main.js');
const SERVER_NODE_FLAGS = [
  '--max-semi-space-size=4',
  '--memory-balancer',
  '--memory-balancer-c-value=1e-11',
  // TurboFan optimizes a function once it has spent a budget worth 500 runs of its bytecode
  // instead of V8's 3,000 (until then it runs Maglev's code: quicker to compile, slower to run).
  // The send path's big async functions (`buildEvent`, `persistEvent`, the auth checks), which
  // run only part of their bytecode per call, reached TurboFan 6,000–7,000 events into a load,
  // so a warmed-up sync load still spent ≈ 10% of the server's CPU compiling on the second core
  // (`perf record`; `--trace-opt` for which functions, when) and ran Maglev code. Sync load,
  // closed loop, nine alternated pairs: throughput higher in 8, p99 lower in 7, main-thread CPU
  // per event lower in 8; open loop at 1,000 events/s, four pairs: no difference; memory bench
  // settled 124, 124 against 125, 121 MiB. The cost: a cold start compiles more at once (≈ 2.2
  // against 1.5–1.9 ms of server CPU per event in the first 1,000 events) (ARCHITECTURE.md,
  // record "session 19 — TurboFan after 500 calls").
  '--invocation-count-for-turbofan=500',
  // V8's `gc` extension under a name of the server's own (src/idle-memory.ts: memory is given
  // back once the server goes quiet after a burst).
  '--expose-gc-as=__weftGc',
  // V8's helper threads (concurrent marking and sweeping, background compiles, the scavenger's
  // helpers): one core fewer than the machine has, at most Node's default of 4. The main thread
  // and the HTTP thread serve requests; on 2 cores four helpers only took turns with them
  // (sync load with 1 helper against 4, ten alternated pairs: 941–1,144 against 908–1,149
  // events/s, higher in 8 of 10; p99 50.6–59.0 against 53.8–60.8 ms; memory bench settled 123
  // against 129 MiB; ARCHITECTURE.md, record "session 16 — V8's helper threads").
  `--v8-pool-size=${Math.max(1, Math.min(4, availableParallelism() - 1))}`,
];

/** The newest modification time of any file under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) {
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

// WEFT_SERVER_SOURCE=1 forces the source, =0 the build (benchmarks build right before they run,
// so files others edit meanwhile must not send them to the source).
const forced = process.env.WEFT_SERVER_SOURCE;
const useBuild =
  existsSync(built) &&
  forced !== '1' &&
  (forced === '0' || statSync(built).mtimeMs >= newestMtime(join(root, 'src')));
const missingFlags = SERVER_NODE_FLAGS.filter(
  (flag) => !process.execArgv.some((given) => given.split('=')[0] === flag.split('=')[0]),
);
// glibc's malloc raises its mmap threshold to the size of each large block freed (up to 32 MiB),
// so after the first password hash, scrypt's 16 MiB work buffers come from the libuv threads'
// arenas, which keep them: 1,000 registrations left ≈ 70 MiB of freed memory resident (memory
// bench 222 → 146 MiB with a fixed threshold). A fixed threshold (glibc's default, 128 KiB;
// mallopt(3) `M_MMAP_THRESHOLD`) maps every large block and unmaps it when freed. Other C
// libraries ignore the variable. Set before the re-execution below, which makes glibc read it.
// Fixing the mmap threshold also fixes the trim threshold, which glibc otherwise raises with it
// (to twice the mmap threshold): at its default, 128 KiB, every free that left 128 KiB at the top
// of an arena gave it back to the kernel and the next allocation asked for it again — brk calls
// and fresh zeroed pages on every request, ≈ 20% of the main thread's time per event under the
// sync load. 4 MiB kept per arena ends that churn (sync load 674–805 → 797–1,027 events/s,
// main thread 0.88–0.99 → 0.66–0.84 ms per event in four alternated runs; memory bench settled
// reading within its spread; ARCHITECTURE.md, record "session 16 — malloc trim threshold").
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '4194304' };
const missingEnv = Object.keys(MALLOC_ENV).filter((name) => process.env[name] === undefined);
const env = { ...MALLOC_ENV, ...process.env };

/**
 * Runs `node ...args` in this process's place: `process.execve` (same PID, signals reach the
 * server directly), or where Node lacks it (22.0–22.14) a child process with signals passed on.
 */
function reexecute(args) {
  if (typeof process.execve === 'function') {
    process.execve(process.execPath, [process.execPath, ...args], env);
  }
  const child = spawn(process.execPath, args, { stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    // A child ended by a signal exits as a shell reports it: 128 + the signal's number.
    process.exitCode = code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1);
  });
}

if (useBuild) {
  if (missingFlags.length > 0 || missingEnv.length > 0) {
    // The child (or this process, replaced) has them all, so it imports the build below.
    reexecute([...missingFlags, ...process.execArgv, self, ...process.argv.slice(2)]);
  } else {
    await import(built);
  }
} else {
  if (forced !== '1') {
    process.stderr.write(
      existsSync(built)
        ? 'weft-server: src/ changed since the build; running from source (npm run build -w apps/server)\n'
        : 'weft-server: no build; running from source (npm run build -w apps/server for the built server)\n',
    );
  }
  reexecute([
    '--conditions=weft-source',
    ...SERVER_NODE_FLAGS,
    ...process.execArgv,
    join(root, 'src/main.ts'),
    ...process.argv.slice(2),
  ]);
}
