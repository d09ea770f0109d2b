/**
 * `npm run demo` end to end: the root script runs to completion, its table of who can read which
 * message equals @weft/epoch's oracle for the demo's steps, and it leaves no temporary
 * directory behind. (So the demo cannot rot.)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { DEMO_STEPS, DEMO_USERS } from '../scripts/demo.ts';
import { expectedTable } from './federated-oracle.ts';

const ROOT = resolve(import.meta.dirname, '../../..');

/** The root package.json's `demo` script as an argument list for this Node. */
function demoCommand(): string[] {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = (pkg.scripts['demo'] ?? '').split(' ');
  expect(words[0]).toBe('node');
  return words.slice(1);
}

describe('npm run demo', () => {
  it('prints the oracle’s table of who can read which message, then cleans up', async () => {
    // The demo's own temporary directory (os.tmpdir() follows TMPDIR): empty again at the end.
    const tmp = mkdtempSync(join(tmpdir(), 'weft-demo-test-'));
    const { stdout } = await promisify(execFile)(process.execPath, demoCommand(), {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: tmp },
      timeout: 240_000,
    });
    const rows = stdout
      .split('\n')
      .filter((line) => /^\| \d+ /.test(line))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const says = DEMO_STEPS.flatMap((s) => (s.kind === 'say' ? [s] : []));
    expect(rows.map((r) => [r[1], r[2]])).toEqual(says.map((s) => [s.user, s.text]));
    const expected = expectedTable(DEMO_USERS, DEMO_STEPS, 'epoch').map((row) =>
      row.map((e) => (e === 'key' ? 'yes' : 'no: missing-key')),
    );
    expect(rows.map((r) => r.slice(3))).toEqual(expected);
    // The kick shows: bob reads neither message sent after it.
    expect(expected.slice(-2).map((row) => row[1])).toEqual(['no: missing-key', 'no: missing-key']);
    expect(stdout).toContain('Servers stopped; temporary files removed.');
    expect(readdirSync(tmp)).toEqual([]);
    rmSync(tmp, { recursive: true });
  }, 300_000);
});
