/**
 * Runs vector files against a list of formats. Used by the CLI (`npm run vectors -- <file>`) and,
 * through `vectorCases`, by each package's vitest suite, so both run exactly the same checks.
 */
import type { VectorCase, VectorFormat } from './format.ts';
import { loadVectorFile, type VectorFile } from './load.ts';

export interface CaseResult {
  readonly format: string;
  readonly name: string;
  readonly error?: unknown;
}

/** The formats that recognise `file`; throws if none does, so an unknown file never "passes". */
export function formatsFor(file: VectorFile, formats: readonly VectorFormat[], label: string) {
  const matching = formats.filter((format) => format.detect(file));
  if (matching.length === 0) {
    throw new Error(
      `no vector format recognises ${label} (known formats: ${formats.map((f) => f.name).join(', ')})`,
    );
  }
  return matching;
}

/**
 * The cases of one file for one format, ready for a test runner; throws when the file is missing,
 * is not of the format, or yields no cases.
 */
export function vectorCases(nameOrPath: string, format: VectorFormat): VectorCase[] {
  const file = loadVectorFile(nameOrPath);
  formatsFor(file, [format], nameOrPath);
  const cases = format.cases(file);
  if (cases.length === 0) throw new Error(`${nameOrPath}: format ${format.name} found no cases`);
  return cases;
}

/** Runs every case of `file` under every format that recognises it. */
export async function runVectorFile(
  nameOrPath: string,
  formats: readonly VectorFormat[],
): Promise<CaseResult[]> {
  const file = loadVectorFile(nameOrPath);
  const results: CaseResult[] = [];
  for (const format of formatsFor(file, formats, nameOrPath)) {
    const cases = format.cases(file);
    if (cases.length === 0) {
      results.push({ format: format.name, name: '(file)', error: new Error('no cases found') });
    }
    for (const testCase of cases) {
      try {
        await testCase.run();
        results.push({ format: format.name, name: testCase.name });
      } catch (error) {
        results.push({ format: format.name, name: testCase.name, error });
      }
    }
  }
  return results;
}
