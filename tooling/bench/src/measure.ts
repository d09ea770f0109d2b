/**
 * A small benchmark harness: runs a function for a time budget after a warm-up and reports
 * operations per second; `compare` prints Weft against its peers as ratios.
 *
 * Benchmarks print figures; they never assert on time (tests don't time things).
 */
export interface Measurement {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly iterations: number;
}

/** Runs `fn` repeatedly for about `millis` ms (after a warm-up) and returns its throughput. */
export function measure(name: string, fn: () => unknown, millis = 1000): Measurement {
  const warmUpEnd = performance.now() + Math.min(200, millis / 4);
  while (performance.now() < warmUpEnd) fn();
  let iterations = 0;
  const start = performance.now();
  let now = start;
  const end = start + millis;
  while (now < end) {
    fn();
    iterations += 1;
    now = performance.now();
  }
  return { name, opsPerSecond: (iterations * 1000) / (now - start), iterations };
}

/** Async variant of `measure`. */
export async function measureAsync(
  name: string,
  fn: () => Promise<unknown>,
  millis = 1000,
): Promise<Measurement> {
  const warmUpEnd = performance.now() + Math.min(200, millis / 4);
  while (performance.now() < warmUpEnd) await fn();
  let iterations = 0;
  const start = performance.now();
  let now = start;
  while (now < start + millis) {
    await fn();
    iterations += 1;
    now = performance.now();
  }
  return { name, opsPerSecond: (iterations * 1000) / (now - start), iterations };
}

/** Prints a table of measurements with each one's ratio to `subject` (Weft's figure). */
export function printComparison(title: string, subject: Measurement, peers: Measurement[]): void {
  console.log(`\n${title}`);
  const rows = [subject, ...peers];
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const row of rows) {
    const ratio = subject.opsPerSecond / row.opsPerSecond;
    const ratioText = row === subject ? '' : `  weft = ${ratio.toFixed(2)}× ${row.name}`;
    console.log(`  ${row.name.padEnd(width)}  ${formatRate(row.opsPerSecond)}${ratioText}`);
  }
}

function formatRate(opsPerSecond: number): string {
  return `${Math.round(opsPerSecond).toLocaleString('en-US').padStart(12)} ops/s`;
}
