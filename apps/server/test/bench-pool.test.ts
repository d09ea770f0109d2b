/** The benchmarks' bounded-concurrency helper (bench/pool.ts). */
import { describe, expect, it } from 'vitest';

import { pool } from '../bench/pool.ts';

describe('pool', () => {
  it('runs every index once, at most `limit` at a time, and returns results in index order', async () => {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const results = await pool(10, 3, async (i) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      // Later indexes finish first, so completion order differs from index order.
      for (let turn = 0; turn < 10 - i; turn++) await Promise.resolve();
      running--;
      return i * i;
    });
    expect(results).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    expect([...started].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(most).toBe(3);
  });

  it('runs nothing for no items, and no more workers than items', async () => {
    expect(await pool(0, 4, async () => 1)).toEqual([]);
    let running = 0;
    let most = 0;
    await pool(2, 8, async () => {
      running++;
      most = Math.max(most, running);
      await Promise.resolve();
      running--;
    });
    expect(most).toBe(2);
  });
});
