/**
 * The package's runtime surface is exactly what the README's API table documents: an export
 * nobody documents (or a documented name that is gone) fails here, so a public helper cannot
 * linger unused and untested, as `corsMiddleware` did until it was removed.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import * as transport from '@weft/transport';
import { describe, expect, it } from 'vitest';

/** The leading identifier of each code span in the first column of the README's API table. */
function documentedNames(): string[] {
  const readme = readFileSync(resolve(import.meta.dirname, '../README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## API'), readme.indexOf('## How this maps'));
  const names = new Set<string>();
  for (const line of table.split('\n')) {
    const firstCell = line.split('|')[1] ?? '';
    for (const span of firstCell.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (span[1] !== undefined) names.add(span[1]);
    }
  }
  return [...names].sort();
}

describe('public API', () => {
  it('exports at run time exactly the names the README documents', () => {
    const documented = documentedNames();
    expect(documented.length).toBeGreaterThan(20);
    expect(Object.keys(transport).sort()).toEqual(documented);
  });

  it('no longer exports corsMiddleware: createMatrixApp writes the CORS headers itself', () => {
    expect('corsMiddleware' in transport).toBe(false);
  });
});
