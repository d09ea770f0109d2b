/**
 * The background WAL flush (storage/wal-presync.ts) against a real SQLite file: it opens the
 * log once there is one, flushes it off the event loop, never blocks or fails a COMMIT, and
 * `close()` waits for it and lets the file go; committed data reads back after a reopen.
 */
import { mkdtempSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openSqlite } from '../src/storage/sqlite.ts';
import { WalPresync } from '../src/storage/wal-presync.ts';

/** Paths this process has open (Linux: /proc/self/fd). */
function openPaths(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

/** Waits until `check` holds (the flush runs on libuv's thread pool). */
async function eventually(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('background WAL flush', () => {
  it('tolerates a log that does not exist yet, then opens it, and lets it go on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-presync-'));
    const wal = join(dir, 'weft.db-wal');
    const presync = new WalPresync(wal);
    presync.committed();
    await presync.close();
    expect(openPaths()).not.toContain(wal);

    const db = openSqlite({ path: join(dir, 'weft.db') });
    await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [1, 'one']);
    });
    // The first commit started a flush, which opened the log.
    await eventually(() => openPaths().includes(wal));
    await db.close();
    expect(openPaths()).not.toContain(wal);
  });

  it('keeps every committed row through many commits and a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-presync-'));
    const path = join(dir, 'weft.db');
    const db = openSqlite({ path });
    await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    for (let i = 0; i < 300; i++) {
      await db.transaction(async (tx) => {
        await tx.execute('INSERT INTO t (id, v) VALUES ($1, $2)', [i, 'x'.repeat(2000)]);
      });
      // Flushes start at most every 50 ms: spread the commits over several of them.
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await db.close();
    const again = openSqlite({ path });
    expect(await again.queryOne('SELECT count(*) AS n FROM t')).toEqual({ n: 300 });
    await again.close();
  });
});
