import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { checkBoundaries, findCycle, importsOf } from '../src/rules.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function fakeRepo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'weft-boundaries-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const manifest = (name: string, deps: Record<string, string> = {}) =>
  JSON.stringify({ name, dependencies: deps });

describe('boundaries', () => {
  it('the Weft repository itself follows the rules', () => {
    expect(checkBoundaries(repoRoot)).toEqual([]);
  });

  it('finds imports, re-exports and dynamic imports but not commented-out ones', () => {
    const source = [
      "import { a } from '@weft/signing';",
      "export * from './x.ts';",
      "const m = await import('node:fs');",
      "// import { z } from 'left-pad';",
      "import type { T } from '@noble/curves/ed25519.js';",
    ].join('\n');
    expect(importsOf(source)).toEqual([
      '@weft/signing',
      './x.ts',
      '@noble/curves/ed25519.js',
      'node:fs',
    ]);
  });

  it('rejects an upward import, a node built-in, a foreign dependency and an app import', () => {
    const root = fakeRepo({
      'packages/canonical-json/package.json': manifest('@weft/canonical-json', {
        '@weft/signing': '0.0.0',
      }),
      'packages/canonical-json/src/index.ts':
        "import '@weft/signing';\nimport 'node:fs';\nimport 'lodash';",
      'packages/signing/package.json': manifest('@weft/signing', { '@weft/server': '0.0.0' }),
      'packages/signing/src/index.ts': "import { x } from '@weft/dag';",
      'packages/dag/package.json': manifest('@weft/dag'),
      'apps/server/package.json': manifest('@weft/server'),
    });
    const problems = checkBoundaries(root);
    expect(problems).toEqual(
      expect.arrayContaining([
        'packages/canonical-json: may not depend on @weft/signing',
        'packages/canonical-json/src/index.ts: packages/canonical-json may not import @weft/signing',
        'packages/canonical-json/src/index.ts: protocol packages run in browsers; no node:fs in src/',
        'packages/canonical-json/src/index.ts: protocol packages may import only @noble/* (and transport hono), not lodash',
        'packages/signing: depends on the app @weft/server; apps use packages, never the reverse',
        'packages/signing/src/index.ts: packages/signing may not import @weft/dag',
      ]),
    );
  });

  it('detects a cycle', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(findCycle(graph)).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toBeUndefined();
  });
});
