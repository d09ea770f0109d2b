/**
 * `npm run vectors -- <file.json> [more.json …]`
 *
 * Runs vector files of any known format against the packages that exist. Formats are discovered
 * from `packages/<name>/test/vector-formats.ts` (each exports `formats: VectorFormat[]`), so a
 * new package or a new vector file needs no change here. Prints one line per failing case and a
 * last line `N passed, M failed`; exits non-zero on any failure.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { VectorFormat } from './format.ts';
import { runVectorFile } from './run.ts';

const packagesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../packages');

async function discoverFormats(): Promise<VectorFormat[]> {
  const formats: VectorFormat[] = [];
  for (const name of readdirSync(packagesDir).sort()) {
    const file = resolve(packagesDir, name, 'test/vector-formats.ts');
    if (!existsSync(file)) continue;
    const module = (await import(pathToFileURL(file).href)) as { formats?: VectorFormat[] };
    formats.push(...(module.formats ?? []));
  }
  return formats;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n').slice(0, 6).join(' | ');
  return String(error);
}

async function main(files: string[]): Promise<number> {
  if (files.length === 0) {
    console.error('usage: npm run vectors -- <file.json> [more.json …]');
    return 2;
  }
  const formats = await discoverFormats();
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    try {
      for (const result of await runVectorFile(file, formats)) {
        if (result.error === undefined) {
          passed += 1;
        } else {
          failed += 1;
          console.log(`FAIL ${file} [${result.format}] ${result.name}: ${describe(result.error)}`);
        }
      }
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${file}: ${describe(error)}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
