/**
 * The README's authorization example (packages/dag/README.md, "## Authorization rules") runs as
 * written against the source and prints what its comment says.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');

it('README authorization example allows the creator and rejects a non-member', () => {
  const readme = readFileSync(resolve(packageDir, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Authorization rules'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  const run = spawnSync(
    process.execPath,
    ['--conditions=weft-source', '--input-type=module-typescript', '-e', code as string],
    { cwd: packageDir, encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  expect(run.stdout.trim().split('\n')).toEqual(['allowed', 'sender-not-joined']);
});
