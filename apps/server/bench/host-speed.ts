/**
 * How fast the host runs right now: a fixed CPU-bound loop (200,000 JSON round trips of a small
 * object), timed in this process. The shared 2-core machine these figures come from runs in two
 * modes — in a fresh process this loop takes ≈ 90–110 ms in its fast one and ≈ 140–230 ms in
 * its slow one, where everything costs ≈ 1.5× the CPU (ARCHITECTURE.md: the working notes that
 * end "Where the work stands"; record "(session 13) — #5 measured again": the loop does not
 * always show the slow mode) — so the benchmark prints it beside the figures it measures.
 * Here it runs in the benchmark's own process (first cold, then after the delivery runs), so
 * compare its readings with each other rather than with a fresh process's. `machineLine` adds
 * what the whole machine did over a run: its busy share and the hypervisor's steal.
 */
import { readFileSync } from 'node:fs';

function hostLoopMs(): number {
  const start = performance.now();
  let value: unknown = { a: 1, b: 'xx', c: [1, 2, 3] };
  for (let i = 0; i < 200_000; i++) value = JSON.parse(JSON.stringify(value));
  // Read the result, so the loop cannot be dropped as dead code.
  if (value === undefined) throw new Error('unreachable');
  return performance.now() - start;
}

/** The line the benchmark prints: the loop's time now, and what it reads in either mode. */
export function hostSpeedLine(when: string): string {
  return `host speed ${when}: a fixed loop took ${hostLoopMs().toFixed(0)} ms (the machine these figures come from: ≈ 90–110 in its fast mode, ≈ 140–230 in its slow mode)`;
}

/** The machine's CPU time so far, in clock ticks, from Linux's `/proc/stat` (`undefined` elsewhere). */
export interface MachineTimes {
  readonly busy: number;
  readonly steal: number;
  readonly total: number;
}

export function machineTimes(): MachineTimes | undefined {
  try {
    // `cpu  user nice system idle iowait irq softirq steal guest guest_nice` (proc(5)); guest
    // time is already counted in user, so it is left out.
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (ticks.length < 8 || ticks.some((value) => !Number.isFinite(value))) return undefined;
    const field = (i: number) => ticks[i] as number;
    // user + nice + system + irq + softirq; idle and iowait are not busy.
    const busy = field(0) + field(1) + field(2) + field(5) + field(6);
    const steal = field(7);
    return { busy, steal, total: busy + field(3) + field(4) + steal };
  } catch {
    return undefined;
  }
}

/**
 * How the whole machine spent a window: its busy share, and the share the hypervisor took for
 * other guests ("steal"), which shows one cause of the slow mode directly (`undefined` where
 * `/proc/stat` cannot be read).
 */
export function machineLine(start: MachineTimes | undefined): string | undefined {
  const end = machineTimes();
  if (start === undefined || end === undefined || end.total <= start.total) return undefined;
  const total = end.total - start.total;
  const percent = (ticks: number) => ((100 * ticks) / total).toFixed(1);
  return `all cores ${percent(end.busy - start.busy)}% busy, ${percent(end.steal - start.steal)}% stolen by the hypervisor`;
}
