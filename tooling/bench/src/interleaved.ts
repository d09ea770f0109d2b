/**
 * CPU-time comparison of several contenders run in alternation.
 *
 * On a shared machine wall time swings with other people's load, so this counts the process's
 * CPU time (`process.cpuUsage`: every thread, so garbage-collector helper threads are charged to
 * whoever made the garbage). The contenders take turns in small batches for the whole budget,
 * so background load, CPU frequency changes and cache pressure hit all of them alike, and each
 * one gets the same warm-up.
 */
import type { Measurement } from './measure.ts';

/** One contender: `fn` is one operation. */
export interface Contender {
  readonly name: string;
  readonly fn: () => unknown;
}

/** Results in the contenders' order. */
export interface InterleavedResult {
  /** All operations over all CPU time: the average under whatever else the machine runs. */
  readonly mean: Measurement[];
  /** Each contender's fastest batch: an estimate of the same code on an idle machine. */
  readonly best: Measurement[];
  /** CPU microseconds of every batch, per contender, in round order (for paired ratios). */
  readonly batches: number[][];
}

export interface InterleavedOptions {
  /** CPU milliseconds to spend per contender (default 3000). */
  readonly millis?: number;
  /** Operations per batch (default 16); a batch should take at least a millisecond or so. */
  readonly batch?: number;
  /** Untimed operations per contender before measuring (default 3 batches). */
  readonly warmUp?: number;
}

function cpuMicros(start: NodeJS.CpuUsage): number {
  const delta = process.cpuUsage(start);
  return delta.user + delta.system;
}

/** Runs `contenders` in alternating batches until each has used about `millis` of CPU time. */
export function measureInterleaved(
  contenders: readonly Contender[],
  options: InterleavedOptions = {},
): InterleavedResult {
  const millis = options.millis ?? 3000;
  const batch = options.batch ?? 16;
  const warmUp = options.warmUp ?? batch * 3;
  const used = contenders.map(() => 0);
  const counts = contenders.map(() => 0);
  const fastest = contenders.map(() => Number.POSITIVE_INFINITY);
  const batches: number[][] = contenders.map(() => []);
  for (const contender of contenders) for (let i = 0; i < warmUp; i++) contender.fn();
  const budget = millis * 1000;
  while (used.some((micros) => micros < budget)) {
    contenders.forEach((contender, index) => {
      const start = process.cpuUsage();
      for (let i = 0; i < batch; i++) contender.fn();
      const micros = cpuMicros(start);
      used[index] = (used[index] ?? 0) + micros;
      counts[index] = (counts[index] ?? 0) + batch;
      fastest[index] = Math.min(fastest[index] ?? micros, micros);
      batches[index]?.push(micros);
    });
  }
  return {
    mean: contenders.map((contender, index) => ({
      name: contender.name,
      opsPerSecond: ((counts[index] ?? 0) * 1e6) / Math.max(1, used[index] ?? 0),
      iterations: counts[index] ?? 0,
    })),
    best: contenders.map((contender, index) => ({
      name: `${contender.name}, best batch`,
      opsPerSecond: (batch * 1e6) / Math.max(1, fastest[index] ?? 0),
      iterations: batch,
    })),
    batches,
  };
}

/**
 * How many times faster contender `a` ran than contender `b`: the median, over rounds, of the
 * ratio of their batch times within the same round. The two batches of a round ran back to back
 * under the same load, so a load spike moves both and largely cancels out; the median then
 * ignores the rounds where it did not.
 */
export function pairedRatio(result: InterleavedResult, a: number, b: number): number {
  const timesA = result.batches[a] ?? [];
  const timesB = result.batches[b] ?? [];
  const ratios: number[] = [];
  for (let round = 0; round < Math.min(timesA.length, timesB.length); round++) {
    const timeA = timesA[round] as number;
    if (timeA > 0) ratios.push((timesB[round] as number) / timeA);
  }
  ratios.sort((x, y) => x - y);
  const middle = ratios.length >> 1;
  if (ratios.length === 0) return Number.NaN;
  return ratios.length % 2 === 1
    ? (ratios[middle] as number)
    : ((ratios[middle - 1] as number) + (ratios[middle] as number)) / 2;
}
