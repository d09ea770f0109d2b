/**
 * `node bench/probes/gc-window.ts DIR`: each thread's busy time and garbage-collector time over
 * the sync load's measured run, from the V8 CPU profiles the sync load writes with
 * `WEFT_BENCH_PROFILE=DIR` (one `.cpuprofile` per thread). The window is the main thread's
 * longest stretch at least half as busy as its busiest 250 ms step, without its first step.
 * Session 20 found the HTTP thread's collections this way (ARCHITECTURE.md, record "session 20 —
 * the HTTP thread's young generation").
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Profile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: { functionName: string } }[];
  readonly startTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** [time µs, function name, µs until the next sample] of each sample. */
function samplesOf(file: string): [number, string, number][] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const names = new Map(profile.nodes.map((node) => [node.id, node.callFrame.functionName]));
  const out: [number, string, number][] = [];
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    out.push([time, names.get(profile.samples[i] ?? -1) ?? '', profile.timeDeltas[i + 1] ?? 0]);
  }
  return out;
}

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: gc-window.ts DIR (WEFT_BENCH_PROFILE of a run)');
// `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`; the server re-executes itself, so its
// first process leaves a short main-thread profile too: the main thread's is the largest.
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.cpuprofile'))
  .sort()
  .map((name) => join(dir, name));
const mainThread = files
  .filter((file) => file.split('.').at(-3) === '0')
  .sort((a, b) => statSync(b).size - statSync(a).size)[0];
const STEP = 250_000;
const busyByStep = new Map<number, number>();
for (const [time, name, span] of samplesOf(mainThread ?? '')) {
  if (name === '(idle)') continue;
  const step = Math.floor(time / STEP);
  busyByStep.set(step, (busyByStep.get(step) ?? 0) + span);
}
// The longest stretch of consecutive steps with the main thread at least half as busy as in its
// busiest step.
const steps = [...busyByStep.keys()].sort((a, b) => a - b);
const threshold = Math.max(...busyByStep.values()) / 2;
let first: number | undefined;
let last: number | undefined;
let runStart: number | undefined;
for (const [i, step] of steps.entries()) {
  const busy = (busyByStep.get(step) ?? 0) >= threshold;
  if (busy && (runStart === undefined || steps[i - 1] !== step - 1)) runStart = step;
  if (!busy) runStart = undefined;
  if (
    busy &&
    runStart !== undefined &&
    (last === undefined || step - runStart > last - (first ?? 0))
  ) {
    first = runStart;
    last = step;
  }
}
if (last === undefined || first === undefined || last - first < 2) {
  throw new Error('no busy stretch of a second or more found');
}
const from = (first + 1) * STEP;
const to = last * STEP;
for (const file of files) {
  let busy = 0;
  let gc = 0;
  for (const [time, name, span] of samplesOf(file)) {
    if (time < from || time > to || name === '(idle)') continue;
    busy += span;
    if (name === '(garbage collector)') gc += span;
  }
  const wall = to - from;
  console.log(
    `${file.split('/').pop()}: ${(wall / 1e6).toFixed(2)} s window, busy ${(busy / 1e3).toFixed(0)} ms (${((100 * busy) / wall).toFixed(0)}%), GC ${(gc / 1e3).toFixed(0)} ms (${((100 * gc) / wall).toFixed(1)}% of the window)`,
  );
}
