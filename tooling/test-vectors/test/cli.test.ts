/**
 * `npm run vectors -- <file>` as a user runs it: every file in ../shared/vectors passes through the
 * CLI (so a vector file dropped there is checked by the suite with no code change), and the CLI
 * fails loudly on an unknown format, a missing file and a failing case.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { sharedVectorsDir } from '../src/index.ts';

const cli = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli.ts');

function runCli(...files: string[]) {
  const result = spawnSync(process.execPath, ['--conditions=weft-source', cli, ...files], {
    encoding: 'utf8',
  });
  const lines = result.stdout.trim().split('\n');
  return { status: result.status, lines, last: lines.at(-1) ?? '', stderr: result.stderr };
}

describe('vectors CLI', () => {
  const files = readdirSync(sharedVectorsDir).filter((name) => name.endsWith('.json'));

  it('finds the shared vector files', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`passes every case of ${file}`, () => {
      const { status, lines, last } = runCli(file);
      expect(lines.filter((line) => line.startsWith('FAIL'))).toEqual([]);
      expect(last).toMatch(/^[1-9]\d* passed, 0 failed$/);
      expect(status).toBe(0);
    });
  }

  it('fails on a file no format recognises, and on a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-vectors-'));
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ source: 'test', cases: [{ name: 'x', input: 1 }] }));
    const result = runCli(unknown, join(dir, 'missing.json'));
    expect(result.lines.filter((line) => line.startsWith('FAIL'))).toHaveLength(2);
    expect(result.last).toBe('0 passed, 2 failed');
    expect(result.status).toBe(1);
  });

  it('reports a failing case by name and exits non-zero', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-vectors-'));
    const broken = join(dir, 'broken-base64.json');
    writeFileSync(
      broken,
      JSON.stringify({
        source: 'test: a deliberately wrong expectation',
        cases: [{ name: 'wrong', input_utf8: 'foo', expected: 'not-the-base64-of-foo' }],
      }),
    );
    const result = runCli(broken);
    expect(result.lines.some((line) => line.includes('wrong'))).toBe(true);
    expect(result.last).toMatch(/^0 passed, 1 failed$/);
    expect(result.status).toBe(1);
  });
});
