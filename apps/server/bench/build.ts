/**
 * Benchmarks measure the server as `weft-server` runs it: the tsup build in `dist/`. This builds
 * it first, so a benchmark never measures a stale build.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds `dist/` (tsup), right before a benchmark starts its server. */
export function buildServer(): void {
  // WEFT_BENCH_BUILT=1: the build in dist/ is current (repeated A/B runs of one build).
  if (process.env['WEFT_BENCH_BUILT'] === '1') return;
  execFileSync('npx', ['tsup', '--silent'], {
    cwd: resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
