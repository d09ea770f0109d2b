/**
 * A consumer's view of every published package: `npm pack` it, install the tarballs into a blank
 * project (with their real third-party dependencies from the registry), import each package there
 * and check it exposes exactly the API its source declares, with types. Needs `npm run build`
 * first (`npm test` builds before it runs vitest).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const packagesDir = join(root, 'packages');

interface Manifest {
  name: string;
  private?: boolean;
}

const published = readdirSync(packagesDir)
  .sort()
  .map((dir) => ({
    dir: join(packagesDir, dir),
    manifest: JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as Manifest,
  }))
  .filter((pkg) => !pkg.manifest.private);

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('npm pack → install → import', () => {
  let consumer = '';

  beforeAll(() => {
    const work = mkdtempSync(join(tmpdir(), 'weft-pack-'));
    const tarballs = published.map(({ dir, manifest }) => {
      if (!existsSync(join(dir, 'dist/index.js'))) {
        throw new Error(`${manifest.name} is not built: run \`npm run build\` first`);
      }
      const out = npm(['pack', '--json', '--pack-destination', work], dir);
      const [info] = JSON.parse(out) as [{ filename: string }];
      return join(work, info.filename);
    });
    consumer = join(work, 'consumer');
    execFileSync('mkdir', ['-p', consumer]);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], consumer);
  }, 300_000);

  for (const { dir, manifest } of published) {
    it(`${manifest.name} installs, imports and exposes its source API with types`, async () => {
      const installed = join(consumer, 'node_modules', manifest.name);
      expect(existsSync(join(installed, 'dist/index.d.ts'))).toBe(true);
      // Nothing but the built output and docs ships.
      expect(existsSync(join(installed, 'src'))).toBe(false);
      expect(existsSync(join(installed, 'test'))).toBe(false);

      const script = `import(${JSON.stringify(manifest.name)}).then((m) => console.log(JSON.stringify(Object.keys(m).sort())))`;
      const builtKeys = JSON.parse(
        execFileSync(process.execPath, ['--input-type=module', '-e', script], {
          cwd: consumer,
          encoding: 'utf8',
        }),
      ) as string[];
      const sourceKeys = Object.keys(await import(join(dir, 'src/index.ts'))).sort();
      expect(builtKeys).toEqual(sourceKeys);
    });
  }
});
