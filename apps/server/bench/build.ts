/**
 * Benchmarks measure the server as `weft-server` runs it: the tsup build in `dist/`. This builds
 * it first, so a benchmark never measures a stale build.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** Builds `dist/` (tsup), right before a benchmark starts its server. */
export function buildServer(): void {
  execFileSync('npx', ['tsup', '--silent'], {
    cwd: resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
