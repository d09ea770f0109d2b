// Browsers have no node:crypto: with `process.getBuiltinModule` gone at import time, the package
// must load, refuse the native path, and still reproduce libolm's vectors byte for byte
// (../shared/vectors/olm-megolm-generated.json) on @noble alone.

import type { VectorFormat } from '@weft/test-vectors';
import { vectorCases } from '@weft/test-vectors';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Getter = typeof process.getBuiltinModule;
const original: Getter = process.getBuiltinModule;

let formats: VectorFormat[];
let selectCurveImplementation: (native: boolean) => boolean;
let selectPrimitives: (choice: 'auto' | 'portable' | 'native') => boolean;

beforeAll(async () => {
  vi.resetModules();
  (process as unknown as { getBuiltinModule: Getter | undefined }).getBuiltinModule = undefined;
  try {
    ({ formats } = await import('./vector-formats.ts'));
    ({ selectCurveImplementation } = await import('../src/olm/curve.ts'));
    ({ selectPrimitives } = await import('../src/primitives.ts'));
  } finally {
    process.getBuiltinModule = original;
  }
});

afterAll(() => {
  vi.resetModules();
});

describe('Olm without node:crypto', () => {
  it('cannot select the native curve path or native symmetric primitives', () => {
    expect(selectCurveImplementation(true)).toBe(false);
    expect(selectPrimitives('native')).toBe(false);
  });

  it('reproduces every libolm Olm vector on the pure path', async () => {
    const olm = formats.find((format) => format.name === 'olm-libolm');
    if (olm === undefined) throw new Error('olm vector format missing');
    const cases = vectorCases('olm-megolm-generated.json', olm);
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) await c.run();
  });
});
