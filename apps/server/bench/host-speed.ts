/**
 * How fast the host runs right now: a fixed CPU-bound loop (200,000 JSON round trips of a small
 * object), timed in this process. The shared 2-core machine these figures come from runs in two
 * modes — in a fresh process this loop takes ≈ 90–110 ms in its fast one and ≈ 140–230 ms in
 * its slow one, where everything costs ≈ 1.5× the CPU (ARCHITECTURE.md: the working notes that
 * end "Where the work stands"; record "(session 13) — #5 measured again": the loop does not
 * always show the slow mode) — so the benchmark prints it beside the figures it measures.
 * Here it runs in the benchmark's own process (first cold, then after the delivery runs), so
 * compare its readings with each other rather than with a fresh process's.
 */
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
