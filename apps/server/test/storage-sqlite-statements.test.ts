/**
 * The SQLite connection's prepared-statement cache is bounded (`IN (…)` lists and multi-row
 * `VALUES` make one SQL text per length, so an unbounded cache grows with every size seen) and
 * keeps what is in use: least recently used statements go first. New database files get
 * PAGE_SIZE pages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { describe, expect, it } from 'vitest';

import {
  openSqlite,
  PAGE_SIZE,
  SqliteExecutor,
  STATEMENT_CACHE_SIZE,
  toSqlite,
} from '../src/storage/sqlite.ts';

/** A distinct statement text per `n`, as a variable-length list makes. */
const listOf = (n: number) =>
  `SELECT count(*) AS n FROM (SELECT 1 AS x WHERE 1 IN (${Array.from({ length: n }, (_, i) => `$${i + 1}`).join(', ')}))`;

describe('SQLite prepared-statement cache', () => {
  it('keeps at most STATEMENT_CACHE_SIZE statements and evicts the least recently used', async () => {
    const executor = new SqliteExecutor(new DatabaseSync(':memory:'));
    const hot = 'SELECT 42 AS answer';
    const hotStatement = executor.prepare(hot);
    const firstCold = executor.prepare(listOf(1));
    for (let n = 2; n <= STATEMENT_CACHE_SIZE * 2; n += 1) {
      // Used all along, the hot statement stays cached (the same prepared object).
      expect(executor.prepare(hot)).toBe(hotStatement);
      const params = Array.from({ length: n }, (_, i) => i + 1);
      expect(await executor.queryOne(listOf(n), params)).toEqual({ n: 1 });
      expect(executor.cachedStatements).toBeLessThanOrEqual(STATEMENT_CACHE_SIZE);
    }
    expect(executor.cachedStatements).toBe(STATEMENT_CACHE_SIZE);
    // The first list statement was evicted long ago: preparing it again makes a new one, which works.
    const again = executor.prepare(listOf(1));
    expect(again).not.toBe(firstCold);
    expect(await executor.queryOne(listOf(1), [1])).toEqual({ n: 1 });
    expect(await executor.queryOne(hot)).toEqual({ answer: 42 });
  });
});

describe('SQLite page size', () => {
  it('creates new database files with PAGE_SIZE pages and keeps an existing file’s size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-page-size-'));
    try {
      const fresh = openSqlite({ path: join(dir, 'fresh.db') });
      await fresh.execute('CREATE TABLE t (x INTEGER)');
      expect(await fresh.queryOne('PRAGMA page_size')).toEqual({ page_size: PAGE_SIZE });
      await fresh.close();
      // A file made elsewhere with 4 KiB pages keeps them: page_size only applies to a new file.
      const older = new DatabaseSync(join(dir, 'older.db'));
      older.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)');
      older.close();
      const reopened = openSqlite({ path: join(dir, 'older.db') });
      expect(await reopened.queryOne('PRAGMA page_size')).toEqual({ page_size: 4096 });
      await reopened.execute('INSERT INTO t (x) VALUES (1)');
      expect(await reopened.queryOne('SELECT count(*) AS n FROM t')).toEqual({ n: 1 });
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite placeholders', () => {
  it('numbers $n parameters but leaves $n inside string literals as text', async () => {
    expect(toSqlite("SELECT $1, '$2', 'it''s $3', $4")).toBe("SELECT ?1, '$2', 'it''s $3', ?4");
    const executor = new SqliteExecutor(new DatabaseSync(':memory:'));
    expect(await executor.queryOne("SELECT $1 AS a, '$1abc' AS b", ['value'])).toEqual({
      a: 'value',
      b: '$1abc',
    });
  });
});
