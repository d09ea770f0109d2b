/**
 * The idle memory reducer's decision (src/idle-memory.ts): a collection only after the main
 * thread has been quiet for two samples in a row, only when the process grew by 8 MiB since the
 * last one, and not again until it grows anew; and that the running reducer
 * (`startIdleMemoryReducer`) collects through V8's `gc` extension, as a last-resort collection.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { GC_GLOBAL, IdleMemoryReducer, startIdleMemoryReducer } from '../src/idle-memory.ts';
import { silentLog } from '../src/log.ts';

const MiB = 2 ** 20;

/** A process whose utilization and size the test sets; a collection shrinks it to `floor`. */
function fakeProcess(start: number) {
  const state = { rss: start, utilization: 0, floor: start, collections: 0 };
  const reducer = new IdleMemoryReducer({
    rss: () => state.rss,
    utilization: () => state.utilization,
    collect() {
      state.collections += 1;
      state.rss = state.floor;
    },
  });
  return { state, reducer };
}

describe('IdleMemoryReducer', () => {
  it('collects once the main thread is quiet after the process grew, and not again until it grows', () => {
    const { state, reducer } = fakeProcess(100 * MiB);
    // A burst: busy samples, the process grows.
    state.utilization = 0.6;
    state.rss = 140 * MiB;
    expect(reducer.sample()).toEqual({ collected: false });
    expect(reducer.sample()).toEqual({ collected: false });
    // Quiet: the first quiet sample waits, the second collects.
    state.utilization = 0.001;
    state.floor = 118 * MiB;
    expect(reducer.sample()).toEqual({ collected: false });
    expect(reducer.sample()).toEqual({ before: 140 * MiB, after: 118 * MiB });
    expect(state.collections).toBe(1);
    // Still quiet, not grown: nothing more, however long it stays quiet.
    for (let i = 0; i < 10; i++) expect(reducer.sample()).toEqual({ collected: false });
    // Grown by less than 8 MiB since the collection: still nothing.
    state.rss = 125 * MiB;
    for (let i = 0; i < 4; i++) reducer.sample();
    expect(state.collections).toBe(1);
    // Grown by 8 MiB while it stayed quiet: the next sample collects again.
    state.rss = 127 * MiB;
    state.floor = 119 * MiB;
    expect(reducer.sample()).toEqual({ before: 127 * MiB, after: 119 * MiB });
    expect(state.collections).toBe(2);
  });

  it('never collects while the main thread is busy, and a busy sample restarts the quiet count', () => {
    const { state, reducer } = fakeProcess(100 * MiB);
    state.rss = 200 * MiB;
    state.utilization = 0.2;
    for (let i = 0; i < 10; i++) reducer.sample();
    expect(state.collections).toBe(0);
    // Quiet, busy, quiet: no two quiet samples in a row yet.
    for (const share of [0.005, 0.3, 0.005]) {
      state.utilization = share;
      expect(reducer.sample()).toEqual({ collected: false });
    }
    state.utilization = 0.005;
    expect('before' in reducer.sample()).toBe(true);
    expect(state.collections).toBe(1);
  });

  it('counts light steady work as busy: a main thread 3% busy is never collected', () => {
    const { state, reducer } = fakeProcess(100 * MiB);
    state.rss = 200 * MiB;
    state.utilization = 0.03;
    for (let i = 0; i < 20; i++) reducer.sample();
    expect(state.collections).toBe(0);
  });

  it('measures growth from the low point the process reaches after a collection', () => {
    const { state, reducer } = fakeProcess(100 * MiB);
    state.utilization = 0.001;
    state.rss = 140 * MiB;
    // The collection frees pages in the background: right after it the size is still 138 MiB …
    state.floor = 138 * MiB;
    reducer.sample();
    expect(reducer.sample()).toEqual({ before: 140 * MiB, after: 138 * MiB });
    // … and it falls to 110 MiB a moment later.
    state.rss = 110 * MiB;
    reducer.sample();
    // A burst takes it to 130 MiB: above 110 + 8, so the next quiet pair collects, although it
    // is below the 138 read right after the last collection.
    state.utilization = 0.5;
    state.rss = 130 * MiB;
    reducer.sample();
    state.utilization = 0.001;
    state.floor = 112 * MiB;
    reducer.sample();
    expect(reducer.sample()).toEqual({ before: 130 * MiB, after: 112 * MiB });
    expect(state.collections).toBe(2);
  });

  it('does not collect a process that has not grown since it started', () => {
    const { state, reducer } = fakeProcess(100 * MiB);
    state.utilization = 0;
    state.rss = 107 * MiB;
    for (let i = 0; i < 10; i++) reducer.sample();
    expect(state.collections).toBe(0);
  });
});

describe('startIdleMemoryReducer', () => {
  const globals = globalThis as Record<string, unknown>;

  afterEach(() => {
    delete globals[GC_GLOBAL];
    vi.useRealTimers();
  });

  it('collects through the gc extension with a synchronous last-resort major collection', () => {
    vi.useFakeTimers();
    // The extension as bin/weft-server.js exposes it (`--expose-gc-as`), recording its calls.
    const calls: unknown[][] = [];
    globals[GC_GLOBAL] = (...args: unknown[]) => {
      calls.push(args);
    };
    // A process that grew by 40 MiB since the reducer started and whose main thread is quiet.
    const size = { rss: 100 * MiB };
    const reducer = startIdleMemoryReducer(silentLog, {
      rss: () => size.rss,
      utilization: () => 0,
    });
    size.rss = 140 * MiB;
    try {
      // One sample: quiet, but not yet for long enough.
      vi.advanceTimersByTime(2_000);
      expect(calls).toEqual([]);
      // The second quiet sample collects.
      vi.advanceTimersByTime(2_000);
      expect(calls).toEqual([[{ type: 'major', execution: 'sync', flavor: 'last-resort' }]]);
    } finally {
      reducer.stop();
    }
  });

  it('runs nothing without the gc extension', () => {
    vi.useFakeTimers();
    const rss = vi.fn(() => 100 * MiB);
    const reducer = startIdleMemoryReducer(silentLog, { rss, utilization: () => 0 });
    vi.advanceTimersByTime(10_000);
    reducer.stop();
    expect(rss).not.toHaveBeenCalled();
  });
});
