/**
 * `node bench/probes/sql-time-report.ts [DIR]`: the SQL cost per event of the sync load's
 * measured run, from the snapshots `sql-time.ts` wrote to DIR (default /tmp/weft-sql-time). The
 * measured run is taken as the last `MESSAGES` (3,000) events inserted; costs are divided by
 * the events inserted between the two snapshots that bracket it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Snapshot = Map<string, { calls: number; ns: number }>;

const dir = process.argv[2] ?? '/tmp/weft-sql-time';
const MESSAGES = Number(process.env['WEFT_BENCH_MESSAGES'] ?? 3000);
const snapshots: Snapshot[] = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => new Map(JSON.parse(readFileSync(join(dir, name), 'utf8'))));
const eventsInserted = (snapshot: Snapshot): number => {
  let calls = 0;
  for (const [sql, entry] of snapshot)
    if (/^\s*INSERT INTO events\s*\(/i.test(sql)) calls += entry.calls;
  return calls;
};
const counts = snapshots.map(eventsInserted);
const last = Math.max(0, ...counts);
const end = counts.indexOf(last);
const start = counts.findIndex((count) => count >= last - MESSAGES);
const before = snapshots[start];
const after = snapshots[end];
if (before === undefined || after === undefined || end <= start) {
  throw new Error(`no measured run found in ${dir} (${snapshots.length} snapshots)`);
}
const events = last - (counts[start] ?? 0);
const rows: { sql: string; calls: number; ns: number }[] = [];
for (const [sql, entry] of after) {
  const earlier = before.get(sql) ?? { calls: 0, ns: 0 };
  const calls = entry.calls - earlier.calls;
  if (calls > 0) rows.push({ sql, calls, ns: entry.ns - earlier.ns });
}
rows.sort((a, b) => b.ns - a.ns);
const totalNs = rows.reduce((sum, row) => sum + row.ns, 0);
const totalCalls = rows.reduce((sum, row) => sum + row.calls, 0);
console.log(
  `${events} events: ${(totalCalls / events).toFixed(1)} statements and ${(totalNs / 1e3 / events).toFixed(0)} µs of SQLite per event`,
);
for (const row of rows.slice(0, 30)) {
  const perEvent = (row.ns / 1e3 / events).toFixed(1).padStart(6);
  const each = (row.ns / row.calls / 1e3).toFixed(1).padStart(7);
  console.log(
    `${perEvent} µs/event ${(row.calls / events).toFixed(2).padStart(5)}/event ${each} µs each  ${row.sql.replace(/\s+/g, ' ').slice(0, 110)}`,
  );
}
