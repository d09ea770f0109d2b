/**
 * The WAL checkpoint after a COMMIT (storage/wal-checkpoints.ts), on a real SQLite file: with
 * SQLite's own automatic checkpoint far away (the backstop), the log is still copied back and
 * restarted every few pages, so it stays small; every committed row reads back after a reopen.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openSqlite, PAGE_SIZE } from '../src/storage/sqlite.ts';
import { BACKSTOP_PAGES, WalCheckpoints } from '../src/storage/wal-checkpoints.ts';

describe('WAL checkpoints after COMMIT', () => {
  it('keep the log near the interval, far below the automatic backstop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-checkpoints-'));
    const path = join(dir, 'weft.db');
    const interval = 64;
    const db = openSqlite({ path, checkpointPages: interval });
    await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const commits = 600;
    for (let i = 0; i < commits; i++) {
      await db.transaction(async (tx) => {
        // A row larger than a page: at least two pages of log per commit.
        await tx.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [i, 'x'.repeat(PAGE_SIZE)]);
      });
      // The checkpoint runs on a later turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const logPages = statSync(`${path}-wal`).size / PAGE_SIZE;
    // Without the checkpoints every commit's pages would still be in the log (≥ 1,200 pages;
    // SQLite's own checkpoint waits for BACKSTOP_PAGES).
    expect(BACKSTOP_PAGES).toBeGreaterThan(commits * 2);
    expect(logPages).toBeLessThan(commits);
    await db.close();
    const again = openSqlite({ path });
    expect(await again.queryOne('SELECT count(*) AS n FROM t')).toEqual({ n: commits });
    await again.close();
  });

  it('report each failed checkpoint, and try again after more commits', async () => {
    const failures: unknown[] = [];
    let attempts = 0;
    const checkpoints = new WalCheckpoints(
      async () => {
        attempts++;
        // The third fails because the database closes under it.
        if (attempts === 3) checkpoints.close();
        throw new Error(`database is locked (${attempts})`);
      },
      1,
      (error) => failures.push(error),
    );
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    checkpoints.committed();
    await turn();
    await turn();
    expect(failures.map((error) => (error as Error).message)).toEqual(['database is locked (1)']);
    checkpoints.committed();
    await turn();
    await turn();
    expect(attempts).toBe(2);
    expect(failures).toHaveLength(2);
    // One that fails because the database is closing is not a failure to report.
    checkpoints.committed();
    await turn();
    await turn();
    expect(attempts).toBe(3);
    expect(failures).toHaveLength(2);
  });
});
