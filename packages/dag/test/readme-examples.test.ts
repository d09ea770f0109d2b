/**
 * The README's examples (packages/dag/README.md) run as written against the source and print what
 * their comments say.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');

/** Runs the first ```ts block after `heading` in the README and returns its stdout lines. */
function runReadmeBlock(heading: string): string[] {
  const readme = readFileSync(resolve(packageDir, 'README.md'), 'utf8');
  const start = readme.indexOf(heading);
  expect(start, `README has a "${heading}" section`).toBeGreaterThanOrEqual(0);
  const code = /```ts\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  expect(code, `a ts block follows "${heading}"`).toBeDefined();
  const run = spawnSync(
    process.execPath,
    ['--conditions=weft-source', '--input-type=module-typescript', '-e', code as string],
    { cwd: packageDir, encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  return run.stdout.trim().split('\n');
}

it('README example resolves the concurrent topics to $topic-b', () => {
  expect(runReadmeBlock('## Example')).toEqual(['$topic-b']);
});

it('README authorization example allows the creator and rejects a non-member', () => {
  expect(runReadmeBlock('## Authorization rules')).toEqual(['allowed', 'sender-not-joined']);
});
