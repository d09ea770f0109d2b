/**
 * The SQLite connection's prepared-statement cache is bounded (`IN (…)` lists and multi-row
 * `VALUES` make one SQL text per length, so an unbounded cache grows with every size seen) and
 * keeps what is in use: least recently used statements go first.
 */
import { DatabaseSync } from 'node:sqlite';

import { describe, expect, it } from 'vitest';

import { SqliteExecutor, STATEMENT_CACHE_SIZE } from '../src/storage/sqlite.ts';

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
