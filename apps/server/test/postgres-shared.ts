/**
 * Vitest global setup: with `WEFT_TEST_POSTGRES_SHARED=1` (the README's test command sets it),
 * one throwaway PostgreSQL cluster serves every test file of the run, through
 * `WEFT_POSTGRES_URL`, which `startPostgres()` then connects to instead of starting a cluster of
 * its own. A cluster costs seconds of CPU to create and start, and twenty files each started one.
 * Each file still gets fresh databases (`createDatabase`, names carry the worker's pid), so files
 * running at once never share one. Without the flag (a single file run by hand) nothing changes.
 */
import { startPostgres, type TestPostgres } from './postgres.ts';

let shared: TestPostgres | undefined;

export async function setup(): Promise<void> {
  if (process.env['WEFT_TEST_POSTGRES_SHARED'] !== '1') return;
  if ((process.env['WEFT_POSTGRES_URL'] ?? '') !== '') return;
  shared = await startPostgres();
  // Forked test workers start after this and inherit the environment.
  process.env['WEFT_POSTGRES_URL'] = shared.url('postgres');
}

export async function teardown(): Promise<void> {
  await shared?.stop();
  shared = undefined;
}
