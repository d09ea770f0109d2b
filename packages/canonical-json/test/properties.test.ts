/**
 * Properties: parse ∘ encode is the identity on encodable values, encoding is idempotent
 * through the parser, the code point comparator matches a reference, and the UTF-8 checker
 * agrees with the platform's fatal decoder.
 *
 * Deep equality uses node:assert, which compares prototypes and own keys; vitest's
 * toStrictEqual reads a `constructor` key as the class, and keys named so are generated on purpose.
 */
import assert from 'node:assert/strict';

import { encodeCanonicalJson, encodeCanonicalJsonBytes, parseJson } from '@weft/canonical-json';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { compareCodePoints } from '../src/code-point-order.ts';
import { firstIllFormedByte } from '../src/utf8.ts';
import { interestingString, jsonValue } from './arbitraries.ts';

describe('encode/parse round trip', () => {
  it('parseJson(encodeCanonicalJson(v)) deep-equals v', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        assert.deepStrictEqual(parseJson(encodeCanonicalJson(value)), value);
      }),
      { numRuns: 1000 },
    );
  });

  it('parsing the bytes gives the same value, and re-encoding the same bytes', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const bytes = encodeCanonicalJsonBytes(value);
        const reparsed = parseJson(bytes);
        assert.deepStrictEqual(reparsed, value);
        expect(encodeCanonicalJsonBytes(reparsed)).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('canonical form does not depend on how the input text was laid out', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const pretty = JSON.stringify(value, null, 2);
        expect(encodeCanonicalJson(parseJson(pretty))).toBe(encodeCanonicalJson(value));
      }),
      { numRuns: 500 },
    );
  });
});

/** Reference order: compare arrays of code points. */
function referenceCompare(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

describe('compareCodePoints', () => {
  it('has the sign of the reference code point comparison', () => {
    fc.assert(
      fc.property(interestingString, interestingString, (a, b) => {
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(referenceCompare(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts astral characters after U+FFFF, unlike UTF-16 order', () => {
    expect(compareCodePoints('\u{10000}', '\uFFFF')).toBeGreaterThan(0);
    expect('\u{10000}' < '\uFFFF').toBe(true);
  });
});

describe('firstIllFormedByte', () => {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  const isValid = (bytes: Uint8Array) => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };

  it('agrees with the platform fatal decoder on random bytes', () => {
    // Bytes biased towards lead and continuation bytes so multi-byte forms are exercised.
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 0xff }),
      fc.integer({ min: 0x80, max: 0xbf }),
      fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.array(byte, { maxLength: 12 }), (a, b) => {
        const bytes = new Uint8Array([...a, ...b]);
        const at = firstIllFormedByte(bytes);
        expect(at === -1).toBe(isValid(bytes));
        if (at >= 0) {
          expect(isValid(bytes.subarray(0, at))).toBe(true);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('accepts every well-formed encoding of random strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(firstIllFormedByte(new TextEncoder().encode(text))).toBe(-1);
      }),
      { numRuns: 1000 },
    );
  });
});
