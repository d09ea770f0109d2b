/**
 * One vitest run covers every workspace. Tests import `@weft/<pkg>` and run against its `src/`
 * (aliases below), so the suite needs no build; the built `dist/` is checked separately by each
 * package's pack test.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';

import { defineConfig } from 'vitest/config';

const packagesDir = resolve(import.meta.dirname, 'packages');
const sourceAliases = readdirSync(packagesDir).map((name) => ({
  find: new RegExp(`^@weft/${name}$`),
  replacement: resolve(packagesDir, name, 'src/index.ts'),
}));

export default defineConfig({
  resolve: { alias: sourceAliases },
  test: {
    include: ['{packages,apps,tooling}/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One PostgreSQL cluster for the whole run when WEFT_TEST_POSTGRES_SHARED=1 (npm test).
    globalSetup: ['apps/server/test/postgres-shared.ts'],
  },
});
