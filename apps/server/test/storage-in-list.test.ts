/** `IN (…)` lists: placeholders and chunks (storage/in-list.ts), against a real SQLite file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { IN_LIST_CHUNK, inListChunks, placeholders, textPerCount } from '../src/storage/in-list.ts';
import { openSqlite } from '../src/storage/sqlite.ts';

describe('IN lists', () => {
  it('numbers placeholders from `start`', () => {
    expect(placeholders(3)).toBe('$1, $2, $3');
    expect(placeholders(2, 4)).toBe('$4, $5');
  });

  it('cuts a list into chunks of at most IN_LIST_CHUNK, in order, and finds every row', async () => {
    const values = Array.from({ length: IN_LIST_CHUNK * 2 + 7 }, (_, i) => `v${i}`);
    const chunks = [...inListChunks(values)];
    expect(chunks.map((chunk) => chunk.length)).toEqual([IN_LIST_CHUNK, IN_LIST_CHUNK, 7]);
    expect(chunks.flat()).toEqual(values);
    expect([...inListChunks([])]).toEqual([]);

    const dir = mkdtempSync(join(tmpdir(), 'weft-in-list-'));
    const db = openSqlite({ path: join(dir, 'in-list.db') });
    try {
      await db.execute('CREATE TABLE t (v TEXT PRIMARY KEY)');
      await db.transaction(async (tx) => {
        for (const value of values) await tx.execute('INSERT INTO t (v) VALUES ($1)', [value]);
      });
      let found = 0;
      for (const chunk of inListChunks(values)) {
        const rows = await db.query(
          `SELECT v FROM t WHERE v IN (${placeholders(chunk.length)})`,
          chunk,
        );
        found += rows.length;
      }
      expect(found).toBe(values.length);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds a text once per count up to maxKept, and every time above it', () => {
    const built: number[] = [];
    const text = textPerCount((count) => {
      built.push(count);
      return `SELECT ${placeholders(count)}`;
    }, 2);
    expect(text(2)).toBe('SELECT $1, $2');
    expect(text(2)).toBe('SELECT $1, $2');
    expect(text(1)).toBe('SELECT $1');
    expect(text(3)).toBe('SELECT $1, $2, $3');
    expect(text(3)).toBe('SELECT $1, $2, $3');
    expect(built).toEqual([2, 1, 3, 3]);
  });
});
