/**
 * parseJson: RFC 8259 syntax plus the Matrix rules for untrusted input (spec appendices
 * "Canonical JSON" number rules; duplicate keys, surrogates, UTF-8, depth and size limits).
 * One negative test per error code, each checking code, path and position.
 */
import { CanonicalJsonError, type CanonicalJsonErrorCode, parseJson } from '@weft/canonical-json';
import { describe, expect, it } from 'vitest';

const utf8 = new TextEncoder();

function failure(run: () => unknown): CanonicalJsonError {
  try {
    run();
  } catch (error) {
    if (CanonicalJsonError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a CanonicalJsonError, nothing was thrown');
}

describe('parseJson accepts', () => {
  it('every JSON value kind, with RFC 8259 whitespace', () => {
    expect(parseJson(' \t\r\n{ "a" : [ true , false , null , -12 , "x" , { } , [ ] ] }\n')).toEqual(
      { a: [true, false, null, -12, 'x', {}, []] },
    );
  });

  it('all escapes, including surrogate pairs and escaped solidus', () => {
    expect(parseJson('"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\ud83d\\ude00"')).toBe(
      '"\\/\b\f\n\r\téé\u{1F600}',
    );
  });

  it('raw non-ASCII, astral characters, U+2028/2029/007F', () => {
    expect(parseJson('"日本\u{1F600}\u2028\u2029\u007f"')).toBe('日本\u{1F600}\u2028\u2029\u007f');
    expect(parseJson(utf8.encode('"日本\u{1F600}"'))).toBe('日本\u{1F600}');
  });

  it('integral numbers in any notation, per the spec example (-0 → 0, 1e10 → 10000000000)', () => {
    expect(parseJson('{"a": -0, "b": 1e10}')).toEqual({ a: 0, b: 10_000_000_000 });
    expect(Object.is((parseJson('[-0]') as number[])[0], 0)).toBe(true);
    expect(parseJson('[2.0, 120e-1, 1.5E+1, 0.0, -0.0e7, 9007199254740.991e3]')).toEqual([
      2, 12, 15, 0, 0, 9_007_199_254_740_991,
    ]);
  });

  it('the integer bounds exactly', () => {
    expect(parseJson('[9007199254740991, -9007199254740991]')).toEqual([
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
    ]);
  });

  it('"__proto__" as an own key of a plain object', () => {
    const value = parseJson('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect('polluted' in {}).toBe(false);
  });

  it('floats and big integers with legacyNumbers (room versions 1–5)', () => {
    expect(
      parseJson('[1.5, 1e-3, 9007199254740993, -99999999999999999999]', { legacyNumbers: true }),
    ).toEqual([1.5, 0.001, 9_007_199_254_740_993n, -99_999_999_999_999_999_999n]);
  });

  it('input exactly at maxBytes and maxDepth', () => {
    expect(parseJson('[[1]]', { maxBytes: 5, maxDepth: 2 })).toEqual([[1]]);
    expect(parseJson('"é"', { maxBytes: 4 })).toBe('é');
  });
});

describe('parseJson rejections (code, path, position)', () => {
  const cases: [string, string | Uint8Array, CanonicalJsonErrorCode, string, number][] = [
    ['fraction', '{"a":[2.5]}', 'float', '$.a[0]', 6],
    ['fraction below precision', '[1.0000000000000001]', 'float', '$[0]', 1],
    ['negative exponent', '{"x":{"y":12e-1}}', 'float', '$.x.y', 10],
    ['2**53', '{"n":9007199254740992}', 'integer-out-of-range', '$.n', 5],
    ['-(2**53)', '[-9007199254740992]', 'integer-out-of-range', '$[0]', 1],
    ['big exponent', '[1e16]', 'integer-out-of-range', '$[0]', 1],
    ['huge exponent', '[1e99999999999999999999]', 'integer-out-of-range', '$[0]', 1],
    ['NaN', '[NaN]', 'non-finite', '$[0]', 1],
    ['Infinity', '{"i":Infinity}', 'non-finite', '$.i', 5],
    ['-Infinity', '[-Infinity]', 'non-finite', '$[0]', 1],
    ['duplicate key', '{"a":1,"b":{"c":1,"c":2}}', 'duplicate-key', '$.b.c', 18],
    ['duplicate key after unescaping', '{"a":1,"\\u0061":2}', 'duplicate-key', '$.a', 7],
    ['escaped lone high surrogate', '{"s":"\\ud800x"}', 'lone-surrogate', '$.s', 6],
    ['escaped lone low surrogate', '["\\udc00"]', 'lone-surrogate', '$[0]', 2],
    ['high then non-low escape', '["\\ud800\\u0041"]', 'lone-surrogate', '$[0]', 2],
    ['raw lone surrogate in a string', '["a\uD800"]', 'lone-surrogate', '$[0]', 3],
    ['raw lone surrogate in a key', '{"\uDC00":1}', 'lone-surrogate', '$', 2],
    [
      'UTF-8 overlong',
      new Uint8Array([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]),
      'invalid-utf8',
      '$',
      2,
    ],
    [
      'UTF-8 surrogate (CESU-8)',
      new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]),
      'invalid-utf8',
      '$',
      1,
    ],
    [
      'UTF-8 above U+10FFFF',
      new Uint8Array([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]),
      'invalid-utf8',
      '$',
      1,
    ],
    ['UTF-8 truncated', new Uint8Array([0x22, 0x41, 0xe6, 0x97]), 'invalid-utf8', '$', 2],
    ['UTF-8 stray continuation', new Uint8Array([0x22, 0x80, 0x22]), 'invalid-utf8', '$', 1],
    ['byte-order mark', new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'syntax', '$', 0],
    ['empty input', '', 'syntax', '$', 0],
    ['trailing comma', '{"a":[1,]}', 'syntax', '$.a[1]', 8],
    ['trailing data', '{} {}', 'syntax', '$', 3],
    ['leading zero', '[01]', 'syntax', '$[0]', 2],
    ['no digit after exponent sign', '[1e+]', 'syntax', '$[0]', 2],
    ['two dots', '{"v":1.2.3}', 'syntax', '$.v', 8],
    ['single quotes', "{'a':1}", 'syntax', '$', 1],
    ['unquoted key', '{a:1}', 'syntax', '$', 1],
    ['missing colon', '{"a" 1}', 'syntax', '$', 5],
    ['raw control character', '["a\tb"]', 'syntax', '$[0]', 3],
    ['invalid escape', '["\\x41"]', 'syntax', '$[0]', 2],
    ['short \\u escape', '["\\u12"]', 'syntax', '$[0]', 2],
    ['unterminated string', '{"a":"bc', 'syntax', '$.a', 8],
    ['comment', '[1 /* no */]', 'syntax', '$[1]', 3],
    ['plus sign', '[+1]', 'syntax', '$[0]', 1],
    ['bare fraction', '[.5]', 'syntax', '$[0]', 1],
    ['unfinished literal', '[tru]', 'syntax', '$[0]', 1],
    ['non-JSON whitespace', '[1,\u00a02]', 'syntax', '$[1]', 3],
    ['unclosed object', '{"a":1', 'syntax', '$', 6],
  ];
  for (const [name, input, code, path, position] of cases) {
    it(`${name} → ${code} at ${path} offset ${position}`, () => {
      const error = failure(() => parseJson(input));
      expect(error.code).toBe(code);
      expect(error.path).toBe(path);
      expect(error.position).toBe(position);
    });
  }

  it('reports byte offsets for bytes and UTF-16 offsets for strings', () => {
    const text = '{"é\u{1F600}":1.5}';
    // { " é 😀(2 units) " : → 7 units; 1 + 1 + 2 + 4 + 1 + 1 → 10 bytes.
    expect(failure(() => parseJson(text)).position).toBe(7);
    expect(failure(() => parseJson(utf8.encode(text))).position).toBe(10);
  });

  it('too-deep: nesting beyond maxDepth', () => {
    const error = failure(() => parseJson('{"a":[[{}]]}', { maxDepth: 3 }));
    expect(error.code).toBe('too-deep');
    expect(error.path).toBe('$.a[0][0]');
    expect(error.position).toBe(7);
  });

  it('too-deep by default on a deeply nested attack', () => {
    const error = failure(() => parseJson(`${'['.repeat(100_000)}${']'.repeat(100_000)}`));
    expect(error.code).toBe('too-deep');
  });

  it('too-deep, not a stack overflow, when maxDepth is raised beyond what the stack holds', () => {
    const depth = 200_000;
    const error = failure(() =>
      parseJson(`${'['.repeat(depth)}${']'.repeat(depth)}`, { maxDepth: depth }),
    );
    expect(error.code).toBe('too-deep');
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it('too-large: input beyond maxBytes, counted in UTF-8', () => {
    expect(failure(() => parseJson('[1,2,3]', { maxBytes: 6 })).code).toBe('too-large');
    expect(failure(() => parseJson('"éé"', { maxBytes: 5 })).code).toBe('too-large');
    expect(failure(() => parseJson(utf8.encode('"éé"'), { maxBytes: 5 })).code).toBe('too-large');
  });

  it('strictNumberSyntax: any fraction or exponent is a float, as Synapse reads it', () => {
    const strict = { strictNumberSyntax: true };
    expect(parseJson('[0, -0, 9007199254740991]', strict)).toEqual([0, 0, Number.MAX_SAFE_INTEGER]);
    for (const [text, path, position] of [
      ['{"a":1e10}', '$.a', 5],
      ['[2.0]', '$[0]', 1],
      ['[-0.0]', '$[0]', 1],
    ] as const) {
      const error = failure(() => parseJson(text, strict));
      expect([error.code, error.path, error.position]).toEqual(['float', path, position]);
    }
    expect(parseJson('[2.5]', { ...strict, legacyNumbers: true })).toEqual([2.5]);
  });

  it('legacyNumbers still rejects NaN, overflow to Infinity and bad syntax', () => {
    const legacy = { legacyNumbers: true };
    expect(failure(() => parseJson('[NaN]', legacy)).code).toBe('non-finite');
    expect(failure(() => parseJson('[1e400]', legacy)).code).toBe('non-finite');
    expect(failure(() => parseJson('[1.]', legacy)).code).toBe('syntax');
  });

  it('never puts string contents in the message', () => {
    const error = failure(() => parseJson('{"password":"hunter2-secret\\ud800"}'));
    expect(error.message).not.toContain('hunter2');
  });

  it('throws TypeError / RangeError for misuse', () => {
    expect(() => parseJson(42 as unknown as string)).toThrow(TypeError);
    expect(() => parseJson('1', { maxDepth: -1 })).toThrow(RangeError);
    expect(() => parseJson('1', { maxBytes: Number.NaN })).toThrow(RangeError);
  });
});

describe('parseJson with floats (account data, room tags)', () => {
  const floats = { floats: true };

  it('keeps floats; a fraction or exponent makes a float even when integral', () => {
    expect(parseJson('{"order":0.5,"a":[1.5,-2.25e-3]}', floats)).toEqual({
      order: 0.5,
      a: [1.5, -0.002_25],
    });
    const values = parseJson('[-0, -0.0, 1.0, 1e3, 9007199254740992.0, 1e20, 1e-400]', floats);
    expect(values).toEqual([0, 0, 1, 1000, 2 ** 53, 1e20, 0]);
    expect(Object.is((values as number[])[0], -0)).toBe(false);
    expect(Object.is((values as number[])[1], -0)).toBe(false);
    expect(parseJson('[9007199254740991, -9007199254740991]', floats)).toEqual([
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
    ]);
  });

  it('refuses integers beyond the canonical range, with path and position', () => {
    for (const [text, path, position] of [
      ['9007199254740992', '$', 0],
      ['{"a":[0.5,9007199254740992]}', '$.a[1]', 10],
      ['{"a":{"b":-9007199254740992}}', '$.a.b', 10],
      ['[1.5,123456789012345678901234567890]', '$[1]', 5],
    ] as const) {
      const error = failure(() => parseJson(text, floats));
      expect([error.code, error.path, error.position], text).toEqual([
        'integer-out-of-range',
        path,
        position,
      ]);
    }
    const bytes = failure(() =>
      parseJson(utf8.encode('{"s":"é","a":[1,99999999999999999]}'), floats),
    );
    expect([bytes.code, bytes.path, bytes.position]).toEqual([
      'integer-out-of-range',
      '$.a[1]',
      17,
    ]);
  });

  it('refuses numbers that overflow a double, NaN and bad syntax', () => {
    const error = failure(() => parseJson('{"a":[1,1E400]}', floats));
    expect([error.code, error.path, error.position]).toEqual(['non-finite', '$.a[1]', 8]);
    expect(failure(() => parseJson('[-1e400]', floats)).code).toBe('non-finite');
    expect(failure(() => parseJson('[NaN]', floats)).code).toBe('non-finite');
    expect(failure(() => parseJson('[1.]', floats)).code).toBe('syntax');
    expect(failure(() => parseJson('{"a":1,"a":2}', floats)).code).toBe('duplicate-key');
  });

  it('legacyNumbers wins; strictNumberSyntax is ignored', () => {
    expect(parseJson('[0.5, 9007199254740993]', { floats: true, legacyNumbers: true })).toEqual([
      0.5,
      9_007_199_254_740_993n,
    ]);
    expect(parseJson('[2.0, 0.5]', { floats: true, strictNumberSyntax: true })).toEqual([2, 0.5]);
    const error = failure(() =>
      parseJson('[9007199254740992]', { floats: true, strictNumberSyntax: true }),
    );
    expect(error.code).toBe('integer-out-of-range');
  });

  it('never puts the text in the message', () => {
    const error = failure(() => parseJson('{"secret-key":12345678901234567890}', floats));
    expect(error.path).toBe('$["secret-key"]');
    expect(error.message).not.toContain('12345678901234567890');
  });
});
