/**
 * Loads a vector file from `../shared/vectors/` (beside the project root) or from any path.
 *
 * A missing or malformed file throws: a test run must fail loudly rather than pass with zero cases.
 */
import { readFileSync } from 'node:fs';
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

/** The directory holding the shared vectors: `<project>/../shared/vectors`. */
export const sharedVectorsDir = resolve(projectRoot, '../shared/vectors');

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
