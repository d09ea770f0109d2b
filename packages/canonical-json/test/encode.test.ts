/**
 * encodeCanonicalJson / encodeCanonicalJsonBytes against the rules of spec appendices
 * "Canonical JSON" (https://spec.matrix.org/v1.19/appendices/#canonical-json), and one negative
 * test per error code the encoder raises, each checking the code and the JSON path.
 */
import {
  CanonicalJsonError,
  type CanonicalJsonErrorCode,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
} from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';

function failure(run: () => unknown): CanonicalJsonError {
  try {
    run();
  } catch (error) {
    if (CanonicalJsonError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a CanonicalJsonError, nothing was thrown');
}

describe('encodeCanonicalJson', () => {
  it('sorts keys by code point, not UTF-16 unit (astral after U+E000–U+FFFF)', () => {
    // UTF-16 order would put U+1F600 (as D83D DE00) before U+FF21 and U+E000.
    const value = { '\u{1F600}': 1, '\uFF21': 2, '\uE000': 3, z: 4, '': 5 };
    expect(encodeCanonicalJson(value)).toBe('{"":5,"z":4,"\uE000":3,"\uFF21":2,"\u{1F600}":1}');
  });

  it('sorts every shape right when shapes repeat, share a first key or differ in order', () => {
    // Exercises the remembered key orders: same keys in many orders, same first key with
    // different key sets, and more keys than are remembered.
    const keys = ['type', 'content', 'sender', 'room_id', 'depth', 'hashes', 'z', 'a', 'm'];
    for (let round = 0; round < 36; round++) {
      const shift = round % keys.length;
      const rotated = [...keys.slice(shift), ...keys.slice(0, shift)];
      const order = round % 2 === 0 ? rotated : rotated.reverse();
      const value = Object.fromEntries(order.map((key) => [key, key.length]));
      const expected = `{${[...order]
        .sort()
        .map((key) => `"${key}":${key.length}`)
        .join(',')}}`;
      expect(encodeCanonicalJson(value)).toBe(expected);
      // Same first key as an earlier shape, fewer keys.
      const subset = Object.fromEntries(order.slice(0, 3 + (round % 4)).map((key) => [key, 0]));
      expect(encodeCanonicalJson(subset)).toBe(
        `{${Object.keys(subset)
          .sort()
          .map((key) => `"${key}":0`)
          .join(',')}}`,
      );
    }
    // Same first key and length, differing at each later position in turn.
    for (let position = 1; position < 4; position++) {
      const base = ['type', 'b', 'c', 'd'];
      const variant = base.map((key, i) => (i === position ? `x${key}` : key));
      for (const shape of [base, variant, base]) {
        const value = Object.fromEntries(shape.map((key) => [key, 1]));
        expect(encodeCanonicalJson(value)).toBe(
          `{${[...shape]
            .sort()
            .map((key) => `"${key}":1`)
            .join(',')}}`,
        );
      }
    }
    const wide = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 17) % 40}`, i]));
    expect(Object.keys(JSON.parse(encodeCanonicalJson(wide)) as object)).toEqual(
      Object.keys(wide).sort(),
    );
  });

  it('sorts integer-like keys as strings, not numerically', () => {
    expect(encodeCanonicalJson({ 10: 'a', 2: 'b', 1: 'c', b: 'd' })).toBe(
      '{"1":"c","10":"a","2":"b","b":"d"}',
    );
  });

  it('uses only the grammar escapes: short forms, lower-case \\u00xx, raw U+007F/2028/2029', () => {
    const text = '"\\\b\t\n\f\r\u0000\u001f\u007f\u2028\u2029é\u{10FFFF}/';
    expect(encodeCanonicalJson(text)).toBe(
      '"\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u001f\u007f\u2028\u2029é\u{10FFFF}/"',
    );
  });

  it('escapes keys like strings', () => {
    expect(encodeCanonicalJson({ 'a"\n': 1 })).toBe('{"a\\"\\n":1}');
  });

  it('writes integers without exponent and maps -0 to 0 (spec example)', () => {
    expect(encodeCanonicalJson([-0, 1e10, 2 ** 53 - 1, -(2 ** 53) + 1, 1e20 / 1e5])).toBe(
      '[0,10000000000,9007199254740991,-9007199254740991,1000000000000000]',
    );
  });

  it('accepts bigints in range and null-prototype objects', () => {
    const bare = Object.assign(Object.create(null) as object, { b: 2n, a: -3n });
    expect(encodeCanonicalJson(bare)).toBe('{"a":-3,"b":2}');
  });

  it('writes no whitespace, nested values in place', () => {
    expect(encodeCanonicalJson({ b: [true, false, null, {}], a: { d: [], c: '' } })).toBe(
      '{"a":{"c":"","d":[]},"b":[true,false,null,{}]}',
    );
  });

  it('keeps "__proto__" as an ordinary key', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "a": 0}') as unknown;
    expect(encodeCanonicalJson(value)).toBe('{"__proto__":{"x":1},"a":0}');
  });

  it('encodes a shared (non-cyclic) object each time it appears', () => {
    const shared = { k: 1 };
    expect(encodeCanonicalJson([shared, { s: shared }])).toBe('[{"k":1},{"s":{"k":1}}]');
  });

  it('returns the UTF-8 bytes of the same text', () => {
    const value = { '\u{1F600}': 'é', a: 1 };
    expect(encodeCanonicalJsonBytes(value)).toEqual(
      new TextEncoder().encode(encodeCanonicalJson(value)),
    );
    expect(Array.from(encodeCanonicalJsonBytes('é'))).toEqual([0x22, 0xc3, 0xa9, 0x22]);
  });
});

describe('encodeCanonicalJson rejections (code and path)', () => {
  const inner: unknown[] = [];
  const cyclic = { a: { b: inner } };
  inner.push(cyclic);
  const holey: unknown[] = [1];
  holey[2] = 3;

  const cases: [string, unknown, CanonicalJsonErrorCode, string][] = [
    ['float', { a: [1, 2.5] }, 'float', '$.a[1]'],
    ['NaN', { n: Number.NaN }, 'non-finite', '$.n'],
    ['Infinity', [Number.NEGATIVE_INFINITY], 'non-finite', '$[0]'],
    ['2**53', { big: 2 ** 53 }, 'integer-out-of-range', '$.big'],
    ['-(2**53)', -(2 ** 53), 'integer-out-of-range', '$'],
    ['bigint 2**53', { x: [2n ** 53n] }, 'integer-out-of-range', '$.x[0]'],
    ['undefined', { 'm.key': undefined }, 'unsupported-type', '$["m.key"]'],
    ['function', [() => 1], 'unsupported-type', '$[0]'],
    ['symbol', { s: Symbol('s') }, 'unsupported-type', '$.s'],
    ['array hole', holey, 'unsupported-type', '$[1]'],
    ['Date', { when: new Date(0) }, 'non-plain-object', '$.when'],
    ['Map', new Map(), 'non-plain-object', '$'],
    ['Uint8Array', { k: [new Uint8Array(1)] }, 'non-plain-object', '$.k[0]'],
    ['class instance', { c: new (class Box {})() }, 'non-plain-object', '$.c'],
    ['cycle', cyclic, 'cycle', '$.a.b[0]'],
    ['lone high surrogate', { s: 'ab\uD800' }, 'lone-surrogate', '$.s'],
    ['lone low surrogate', ['\uDC00x'], 'lone-surrogate', '$[0]'],
    ['lone surrogate in a key', { o: { '\uDBFF': 1 } }, 'lone-surrogate', '$.o["\\udbff"]'],
    ['lone half after a pair', { s: 'ok \u{1F600}\uD83D' }, 'lone-surrogate', '$.s'],
    ['pair halves swapped', { s: '\uDE00\uD83D' }, 'lone-surrogate', '$.s'],
    [
      'lone half after a pair in a key',
      [{ '\u{1F600}\uDE00': 1, b: 2 }],
      'lone-surrogate',
      '$[0]["\u{1F600}\\ude00"]',
    ],
  ];
  for (const [name, value, code, path] of cases) {
    it(`${name} → ${code} at ${path}`, () => {
      const error = failure(() => encodeCanonicalJson(value));
      expect(error).toBeInstanceOf(CanonicalJsonError);
      expect(error.code).toBe(code);
      expect(error.path).toBe(path);
      expect(error.position).toBeUndefined();
      expect(error.message).toContain(path);
    });
  }

  it('too-deep: nesting beyond maxDepth, at the first container too deep', () => {
    const error = failure(() => encodeCanonicalJson({ a: [[{}]] }, { maxDepth: 3 }));
    expect(error.code).toBe('too-deep');
    expect(error.path).toBe('$.a[0][0]');
    expect(encodeCanonicalJson({ a: [[{}]] }, { maxDepth: 4 })).toBe('{"a":[[{}]]}');
  });

  it('cycle: an object that is its own child, path to the repeat', () => {
    const self: Record<string, unknown> = { a: 1 };
    Object.assign(self, { self });
    const error = failure(() => encodeCanonicalJson({ x: [self] }));
    expect(error.code).toBe('cycle');
    expect(error.path).toBe('$.x[0].self');
  });

  it('too-deep, not cycle, for deep acyclic nesting', () => {
    let deep: unknown = {};
    for (let i = 0; i < 600; i++) deep = { d: deep };
    const error = failure(() => encodeCanonicalJson(deep));
    expect(error.code).toBe('too-deep');
    expect(error.path).toBe(`$${'.d'.repeat(512)}`);
  });

  it('too-deep by default before the call stack runs out', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(failure(() => encodeCanonicalJson(deep)).code).toBe('too-deep');
  });

  it('never puts string contents in the message', () => {
    const error = failure(() => encodeCanonicalJson({ token: 'hunter2-secret\uD800' }));
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a bad maxDepth with RangeError', () => {
    expect(() => encodeCanonicalJson(1, { maxDepth: -1 })).toThrow(RangeError);
    expect(() => encodeCanonicalJson(1, { maxDepth: 1.5 })).toThrow(RangeError);
  });

  it('lets errors thrown by getters through unchanged', () => {
    const boom = new Error('getter');
    const value = {
      get a(): never {
        throw boom;
      },
    };
    expect(() => encodeCanonicalJson(value)).toThrow(boom);
  });
});

describe('CanonicalJsonError', () => {
  it('isInstance recognises the marker, not just the class', () => {
    const error = failure(() => encodeCanonicalJson(1.5));
    expect(CanonicalJsonError.isInstance(error)).toBe(true);
    expect(CanonicalJsonError.isInstance(new Error('x'))).toBe(false);
    expect(CanonicalJsonError.isInstance(null)).toBe(false);
    expect(CanonicalJsonError.isInstance({ code: 'float' })).toBe(false);
    // A copy from another install: same registry symbol, different class.
    const foreign = { [Symbol.for('weft.canonical-json.error')]: true };
    expect(CanonicalJsonError.isInstance(foreign)).toBe(true);
  });

  it('carries name, code, path and cause', () => {
    const cause = new Error('inner');
    const error = new CanonicalJsonError('syntax', 'bad', { path: '$.a', position: 3, cause });
    expect(error.name).toBe('CanonicalJsonError');
    expect(error.cause).toBe(cause);
    expect(error.position).toBe(3);
    expect(error.message).toBe('syntax: bad at $.a (offset 3)');
  });
});
