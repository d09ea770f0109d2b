/**
 * `npm run bench -w packages/dag`: state resolution on a Matrix-HQ-shaped room (~30,000 state
 * events, 99% memberships) forked with conflicted sets of about 10, 1,000 and 10,000 events, and
 * the auth chain difference over its ~30,000-event chains.
 *
 * No other JavaScript library resolves Matrix state, so the resolution figures are absolute
 * (with the growth factor between sizes); the auth chain difference is compared with the
 * textbook computation (one chain set per state set, then union minus intersection).
 */
import { measureAsync, printComparison } from '@weft/bench';

import {
  authChainDifference,
  createStateResolver,
  eventFetcher,
  type FetchEvents,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  resolveState,
} from '../src/index.ts';
import { buildHqRoom, forkHqRoom } from './hq-room.ts';

const SIZES = [10, 1_000, 10_000] as const;

/**
 * The textbook auth chain difference over the same storage callback: one breadth-first walk and
 * one set of event IDs per state set, then every ID not in all sets. O(k · V) for k state sets.
 */
async function naiveAuthChainDifference(
  sets: readonly string[][],
  fetch: FetchEvents,
): Promise<Set<string>> {
  const chains: Set<string>[] = [];
  for (const ids of sets) {
    const chain = new Set<string>(ids);
    let frontier = [...chain];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const event of await fetch(frontier)) {
        for (const auth of event.auth_events) {
          if (!chain.has(auth)) {
            chain.add(auth);
            next.push(auth);
          }
        }
      }
      frontier = next;
    }
    chains.push(chain);
  }
  const difference = new Set<string>();
  for (const chain of chains) {
    for (const id of chain) if (!chains.every((c) => c.has(id))) difference.add(id);
  }
  return difference;
}

/**
 * Median CPU time (process.cpuUsage: this process only, so other load on a shared machine does
 * not count) and median wall time of `count` runs after one warm-up run.
 */
async function timeRuns(fn: () => Promise<unknown>, count: number) {
  await fn();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]) =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { cpu: median(cpu), wall: median(wall), count };
}

async function benchVersion(rules: RoomVersionRules): Promise<void> {
  const room = buildHqRoom(rules);
  console.log(
    `\nroom version ${rules.id} (state resolution ${rules.stateResolution.beginIterativeAuthChecksWithEmptyState ? 'v2.1' : 'v2'}): ` +
      `${room.events.length} events, ${room.state.size} state entries ` +
      `(${[...room.state.keys()].filter((k) => k.startsWith('13:m.room.member')).length} memberships)`,
  );
  const timings: number[] = [];
  for (const size of SIZES) {
    const fork = forkHqRoom(room, size);
    const fetch = eventFetcher([...room.events, ...fork.events]);
    const sets = [fork.stateA, fork.stateB];
    let conflicted = 0;
    for (const [key, id] of fork.stateA) if (fork.stateB.get(key) !== id) conflicted += 2;
    const runs = await timeRuns(() => resolveState(rules, sets, fetch), 8);
    timings.push(runs.cpu);
    console.log(
      `  conflicted set ${String(conflicted).padStart(6)} events: ` +
        `${runs.cpu.toFixed(1).padStart(7)} ms CPU, ${runs.wall.toFixed(1).padStart(7)} ms wall per resolve (median of ${runs.count})`,
    );
  }
  // A long-lived resolver (createStateResolver) keeps the fetched events between calls.
  for (const size of [10, 10_000]) {
    const fork = forkHqRoom(room, size);
    const resolver = createStateResolver(rules, eventFetcher([...room.events, ...fork.events]));
    const runs = await timeRuns(() => resolver.resolve([fork.stateA, fork.stateB]), 8);
    console.log(
      `  warm createStateResolver, ${String(size).padStart(6)} conflicts: ` +
        `${runs.cpu.toFixed(1).padStart(7)} ms CPU, ${runs.wall.toFixed(1).padStart(7)} ms wall per resolve`,
    );
  }
  const [t10, t1k, t10k] = timings as [number, number, number];
  console.log(
    `  growth (CPU): 10 → 1,000 conflicts ×${(t1k / t10).toFixed(2)}; 1,000 → 10,000 conflicts ×${(t10k / t1k).toFixed(2)} (linear in the conflicted set alone would be ×100 and ×10)`,
  );

  // Eight state sets: both sides of four forks of the room (1,000 conflicts each).
  const forks = [0, 1, 2, 3].map((i) => forkHqRoom(room, 1_000, `x${i}`));
  const all = [...room.events, ...forks.flatMap((f) => f.events)];
  const fetch = eventFetcher(all);
  for (const k of [2, 8]) {
    const sets = forks
      .flatMap((f) => [f.stateA, f.stateB])
      .slice(0, k)
      .map((state) => [...state.values()]);
    const weft = await measureAsync(
      'weft authChainDifference (bitsets)',
      () => authChainDifference(sets, fetch),
      2000,
    );
    const naive = await measureAsync(
      'one chain set per state set',
      () => naiveAuthChainDifference(sets, fetch),
      2000,
    );
    printComparison(
      `  auth chain difference, ${k} state sets of ~${sets[0]?.length} events (ops/s)`,
      weft,
      [naive],
    );
  }
}

for (const rules of [ROOM_V11, ROOM_V12]) await benchVersion(rules);
