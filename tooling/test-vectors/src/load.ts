/**
 * Loads a vector file from `../shared/vectors/` (beside the project root) or from any path.
 *
 * A missing or malformed file throws: a test run must fail loudly rather than pass with zero cases.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shape every vector file shares (see `../shared/vectors/README.md`). */
export interface VectorFile {
  readonly source: string;
  readonly format_note?: string;
  readonly cases?: readonly unknown[];
  readonly invalid?: readonly unknown[];
  readonly [key: string]: unknown;
}

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A clone made elsewhere (e.g. `git clone . $(mktemp -d)`) finds `shared/` beside its origin. */
function originCheckout(): string | undefined {
  try {
    const url = execFileSync('git', ['config', '--get', 'remote.origin.url'], {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return isAbsolute(url) ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The read-only `shared/` folder that sits beside the project root: `$WEFT_SHARED_DIR` if set,
 * else `<project>/../shared`, else `<origin checkout>/../shared`. Throws, naming the places it
 * looked, when none exists.
 */
function findSharedDir(): string {
  const candidates = [
    process.env['WEFT_SHARED_DIR'],
    resolve(projectRoot, '../shared'),
    ...[originCheckout()]
      .filter((dir) => dir !== undefined)
      .map((dir) => resolve(dir, '../shared')),
  ].filter((dir): dir is string => dir !== undefined && dir !== '');
  const found = candidates.find((dir) => existsSync(resolve(dir, 'vectors')));
  if (found === undefined) {
    throw new Error(`shared/ folder not found (looked in: ${candidates.join(', ')})`);
  }
  return found;
}

/** The `shared/` folder beside the project (vectors, matrix-spec schemas). */
export const sharedDir = findSharedDir();

/** The directory holding the shared vectors: `<shared>/vectors`. */
export const sharedVectorsDir = resolve(sharedDir, 'vectors');

/** Resolves a bare file name against the shared vectors directory; paths are kept as given. */
export function vectorPath(nameOrPath: string): string {
  if (isAbsolute(nameOrPath) || nameOrPath.includes('/')) return resolve(nameOrPath);
  return resolve(sharedVectorsDir, nameOrPath);
}

/** Reads and parses a vector file; throws with the path when it is missing or not a vector file. */
export function loadVectorFile(nameOrPath: string): VectorFile {
  const path = vectorPath(nameOrPath);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new Error(`vector file not found: ${path}`, { cause });
  }
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`not a vector file (expected a JSON object): ${path}`);
  }
  return value as VectorFile;
}
