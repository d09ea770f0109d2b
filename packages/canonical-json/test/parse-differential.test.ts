/**
 * parseJson against the platform's JSON.parse (ECMA-404 / RFC 8259) on random and randomly
 * damaged texts: whatever JSON.parse rejects, parseJson rejects with a CanonicalJsonError;
 * whatever JSON.parse accepts, parseJson returns the same value or refuses it for one of the
 * Matrix rules JSON.parse does not know (floats, range, duplicate keys, lone surrogates).
 */
import assert from 'node:assert/strict';

import { CanonicalJsonError, type CanonicalJsonErrorCode, parseJson } from '@weft/canonical-json';
import fc from 'fast-check';
import { describe, it } from 'vitest';

const MATRIX_ONLY: readonly CanonicalJsonErrorCode[] = [
  'float',
  'integer-out-of-range',
  'duplicate-key',
  'lone-surrogate',
];

/** JSON.parse keeps -0; parseJson (like the spec example) gives 0. */
function normalise(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      Object.defineProperty(out, key, {
        value: normalise(inner),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

function check(text: string): void {
  let expected: unknown;
  let platformAccepts = true;
  try {
    expected = JSON.parse(text);
  } catch {
    platformAccepts = false;
  }
  let actual: unknown;
  try {
    actual = parseJson(text);
  } catch (error) {
    assert.ok(CanonicalJsonError.isInstance(error), `not a CanonicalJsonError: ${String(error)}`);
    if (platformAccepts) {
      assert.ok(
        MATRIX_ONLY.includes(error.code),
        `JSON.parse accepts, parseJson said ${error.code}`,
      );
    }
    return;
  }
  assert.ok(platformAccepts, 'parseJson accepted what JSON.parse rejects');
  assert.deepStrictEqual(actual, normalise(expected));
}

/** JSON text with random RFC 8259 whitespace, from fast-check's JSON values. */
const jsonText = fc
  .tuple(fc.jsonValue(), fc.constantFrom(undefined, 1, '\t', ' \r\n'))
  .map(([value, space]) => JSON.stringify(value, null, space));

describe('parseJson vs JSON.parse', () => {
  it('agrees on random JSON texts', () => {
    fc.assert(
      fc.property(jsonText, (text) => check(text)),
      { numRuns: 1000 },
    );
  });

  it('agrees on randomly damaged texts', () => {
    const damage = fc.tuple(
      jsonText,
      fc.nat(),
      fc.constantFrom('delete', 'insert', 'replace'),
      fc.constantFrom(
        ...'{}[]",:\\ -+.0123456789eEtruefalsnNI\u0000\t\n\u00a0\ud800\udc00u'.split(''),
      ),
    );
    fc.assert(
      fc.property(damage, ([text, at, how, char]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        const damaged =
          how === 'delete'
            ? text.slice(0, i) + text.slice(i + 1)
            : how === 'insert'
              ? text.slice(0, i) + char + text.slice(i)
              : text.slice(0, i) + char + text.slice(i + 1);
        check(damaged);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees on texts with escapes and repeated keys', () => {
    const key = fc.constantFrom('a', 'b', '\\u0061', '\\ud83d\\ude00', '\\/', '__proto__');
    const member = fc.tuple(key, fc.integer({ min: -5, max: 5 }));
    fc.assert(
      fc.property(fc.array(member, { maxLength: 4 }), (members) => {
        check(`{${members.map(([k, v]) => `"${k}":${v}`).join(',')}}`);
      }),
      { numRuns: 500 },
    );
  });
});
