/**
 * A probe for the server process (`--import`, e.g. through the sync load's
 * `WEFT_BENCH_NODE_FLAGS="--import=<this file>"`; Node ≥ 22.18 strips its types): sums the time
 * `node:sqlite` spends in each SQL text on the main thread and writes the running totals to
 * `$WEFT_PROBE_DIR` (default /tmp/weft-sql-time) once a second. `sql-time-report.ts` turns two of
 * those snapshots into a cost per event. A development instrument, never loaded by the server
 * itself (ARCHITECTURE.md, record "session 20 — measured per statement and per thread").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, StatementSync } from 'node:sqlite';
import { isMainThread } from 'node:worker_threads';

type Totals = Map<string, { calls: number; ns: number }>;

function record(totals: Totals, sql: string, started: bigint): void {
  const ns = Number(process.hrtime.bigint() - started);
  const entry = totals.get(sql);
  if (entry === undefined) totals.set(sql, { calls: 1, ns });
  else {
    entry.calls += 1;
    entry.ns += ns;
  }
}

if (isMainThread) {
  const totals: Totals = new Map();
  const statement = StatementSync.prototype as unknown as Record<
    string,
    (this: StatementSync, ...args: unknown[]) => unknown
  >;
  for (const method of ['run', 'get', 'all', 'iterate']) {
    const original = statement[method];
    if (original === undefined) continue;
    statement[method] = function (this: StatementSync, ...args: unknown[]) {
      const started = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        record(totals, this.sourceSQL, started);
      }
    };
  }
  const exec = DatabaseSync.prototype.exec;
  DatabaseSync.prototype.exec = function (this: DatabaseSync, sql: string) {
    const started = process.hrtime.bigint();
    try {
      return exec.call(this, sql);
    } finally {
      record(totals, `EXEC ${sql.slice(0, 60)}`, started);
    }
  };
  const dir = process.env['WEFT_PROBE_DIR'] ?? '/tmp/weft-sql-time';
  mkdirSync(dir, { recursive: true });
  setInterval(() => {
    writeFileSync(join(dir, `${Date.now()}.json`), JSON.stringify([...totals]));
  }, 1000).unref();
}
