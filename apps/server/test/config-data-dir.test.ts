/**
 * `--data-dir` naming something that is not a directory is a configuration error like the others:
 * a one-line `weft-server: …` message and exit code 2, not an EEXIST stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');

describe('--data-dir', () => {
  it('pointing at an existing file is a configuration error (exit 2)', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'weft-datadir-')), 'not-a-dir');
    writeFileSync(file, 'x');
    for (const dataDir of [file, join(file, 'below')]) {
      const run = spawnSync(
        process.execPath,
        ['--conditions=weft-source', MAIN, '--data-dir', dataDir],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toMatch(
        new RegExp(
          `^weft-server: data directory ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a directory\\n`,
        ),
      );
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
