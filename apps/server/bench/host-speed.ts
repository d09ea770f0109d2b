/**
 * How fast the host runs right now: a fixed CPU-bound loop (200,000 JSON round trips of a small
 * object), timed in this process. The shared 2-core machine these figures come from runs in two
 * modes — this loop takes ≈ 100 ms in its fast one and 150–200 ms in its slow one, where
 * everything costs ≈ 1.5× the CPU — so the benchmark prints it beside the figures it measures
 * (ARCHITECTURE.md, record "session 19 — TurboFan after 500 calls").
 */
export function hostLoopMs(): number {
  const start = performance.now();
  let value: unknown = { a: 1, b: 'xx', c: [1, 2, 3] };
  for (let i = 0; i < 200_000; i++) value = JSON.parse(JSON.stringify(value));
  // Read the result, so the loop cannot be dropped as dead code.
  if (value === undefined) throw new Error('unreachable');
  return performance.now() - start;
}

/** The line the benchmark prints: the loop's time now, and what it reads in either mode. */
export function hostSpeedLine(when: string): string {
  return `host speed ${when}: a fixed loop took ${hostLoopMs().toFixed(0)} ms (≈ 100 in the machine's fast mode, 150–200 in its slow mode)`;
}
