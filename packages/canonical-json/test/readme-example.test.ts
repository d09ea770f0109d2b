/**
 * The README's example runs as written and prints what its `// …` comments say, so the
 * documentation cannot drift from the code.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('prints the output its comments show', () => {
    const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
    const block = /## Example\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README has a ```ts block under "## Example"').toBeDefined();
    const source = (block ?? '').replace(
      "from '@weft/canonical-json'",
      `from ${JSON.stringify(join(packageDir, 'src/index.ts'))}`,
    );
    const expected = [...source.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
    expect(expected.length).toBeGreaterThan(0);

    const file = join(mkdtempSync(join(tmpdir(), 'weft-readme-')), 'example.ts');
    writeFileSync(file, source);
    const run = spawnSync(process.execPath, [file], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout.trimEnd().split('\n')).toEqual(expected);
  });
});
