/**
 * Gives memory back to the system once the server goes quiet after a burst of work.
 *
 * V8 keeps what a burst leaves behind: its memory reducer is armed only by a mark-compact, and
 * none comes once the server idles, and even a full collection keeps the freed pages in V8's
 * page pool, resident. Only a "last resort" collection (V8's `gc` extension, flavor
 * `last-resort`: full collections until nothing more is freed, then the pool released) returns
 * them: after the memory bench's 1,000 registrations, rooms and syncs, 141 → 118 MiB resident
 * (apps/server README, benchmarks). It stops the main thread for tens of milliseconds, so it
 * runs only when the main thread has been nearly idle for a while, and only again after the
 * process has grown since the last one.
 *
 * `weft-server` exposes the extension under {@link GC_GLOBAL} (bin/weft-server.js,
 * `--expose-gc-as`); without it (the server started some other way) nothing runs.
 */
import { performance } from 'node:perf_hooks';

import type { Log } from './log.ts';

/** The global `weft-server` names V8's `gc` extension (`--expose-gc-as`). */
export const GC_GLOBAL = '__weftGc';

/** How often the main thread's idleness is sampled. */
const INTERVAL_MS = 2_000;
/** Samples in a row below {@link QUIET_UTILIZATION} before a collection (≈ 4–6 s of quiet). */
const QUIET_SAMPLES = 2;
/**
 * Event-loop utilization below which a sample counts as quiet: an idle server's is ≈ 0.1%, a
 * presence sweep lifts one sample to a few percent; the memory bench's set-up (registrations
 * waiting for scrypt on the thread pool) keeps it at 3–10%, which is work, not quiet.
 */
const QUIET_UTILIZATION = 0.01;
/** Growth of the resident set above its low point since the last collection that arms the next. */
const GROWTH_BYTES = 8 * 1024 * 1024;

/** What the reducer reads and does; injected in tests. */
export interface IdleMemoryProbe {
  /** Resident set size in bytes. */
  rss(): number;
  /** The main thread's event-loop utilization (0–1) since the previous call. */
  utilization(): number;
  /** A collection that returns freed memory to the system. */
  collect(): void;
}

/**
 * The reducer's decision, one sample at a time: collect after {@link QUIET_SAMPLES} quiet
 * samples in a row, if the process grew by {@link GROWTH_BYTES} above the lowest size seen since
 * the last collection (or since the start). Returns whether it collected.
 */
export class IdleMemoryReducer {
  readonly #probe: IdleMemoryProbe;
  #quiet = 0;
  #baseline: number;

  constructor(probe: IdleMemoryProbe) {
    this.#probe = probe;
    this.#baseline = probe.rss();
  }

  sample(): { readonly collected: false } | { readonly before: number; readonly after: number } {
    // V8 unmaps the pages a collection frees on a background thread, so the size read right
    // after one is still high: the low point is followed down as it comes.
    this.#baseline = Math.min(this.#baseline, this.#probe.rss());
    if (this.#probe.utilization() >= QUIET_UTILIZATION) {
      this.#quiet = 0;
      return { collected: false };
    }
    this.#quiet += 1;
    if (this.#quiet < QUIET_SAMPLES) return { collected: false };
    const before = this.#probe.rss();
    if (before < this.#baseline + GROWTH_BYTES) return { collected: false };
    this.#probe.collect();
    const after = this.#probe.rss();
    // The next collection waits for new growth: an idle server collects once, not every sample.
    this.#baseline = after;
    this.#quiet = 0;
    return { before, after };
  }
}

type GcExtension = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Samples the main thread every {@link INTERVAL_MS} and collects when it is quiet (see
 * {@link IdleMemoryReducer}); `stop()` ends it. Nothing runs without the `gc` extension.
 * `readings`: the process's size and idleness, the running process's unless a test gives others.
 */
export function startIdleMemoryReducer(
  log: Log,
  readings?: Pick<IdleMemoryProbe, 'rss' | 'utilization'>,
): { stop(): void } {
  const gc = (globalThis as Record<string, unknown>)[GC_GLOBAL];
  if (typeof gc !== 'function') return { stop() {} };
  const { rss, utilization } = readings ?? processReadings();
  const reducer = new IdleMemoryReducer({
    rss,
    utilization,
    collect: () => (gc as GcExtension)({ type: 'major', execution: 'sync', flavor: 'last-resort' }),
  });
  const timer = setInterval(() => {
    const started = performance.now();
    const result = reducer.sample();
    if ('before' in result) {
      log.debug('memory returned while idle', {
        rss_before_mib: Math.round(result.before / 2 ** 20),
        rss_after_mib: Math.round(result.after / 2 ** 20),
        ms: Math.round(performance.now() - started),
      });
    }
  }, INTERVAL_MS);
  // A quiet server must still be able to exit.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The running process's resident set and main-thread utilization since the previous call. */
function processReadings(): Pick<IdleMemoryProbe, 'rss' | 'utilization'> {
  let last = performance.eventLoopUtilization();
  return {
    rss: () => process.memoryUsage.rss(),
    utilization() {
      const now = performance.eventLoopUtilization();
      const share = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return share;
    },
  };
}
