/**
 * The fast path of parseJson (src/parse-fast.ts) may answer only when the strict parser would
 * return exactly the same value. Checked on hand-made texts aimed at each of its shortcuts and
 * on random texts built to hit them: duplicate keys (also with keys and strings holding `":`),
 * numbers with fractions, exponents, 16+ digits or `-0`, escaped and raw surrogates, nesting.
 */
import assert from 'node:assert/strict';

import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCorpus } from '../bench/corpus.ts';
import { parseJson, parseStrict } from '../src/parse.ts';
import { parseCommonCase } from '../src/parse-fast.ts';

function strict(text: string, maxDepth = 512): { value: unknown } | { error: unknown } {
  try {
    return { value: parseStrict(text, false, maxDepth, 'canonical') };
  } catch (error) {
    return { error };
  }
}

/** The fast path either declines or returns what the strict parser returns (same -0, same keys). */
function agrees(text: string, maxDepth = 512): boolean {
  const fast = parseCommonCase(text, maxDepth);
  if (fast === undefined) return false;
  const expected = strict(text, maxDepth);
  assert.ok('value' in expected, `fast path accepted what the strict parser rejects: ${text}`);
  assert.deepStrictEqual(fast, expected.value);
  // parseJson takes the fast path with every number option, so each must read the text alike.
  for (const mode of ['legacy', 'floats', 'canonical-strict'] as const) {
    assert.deepStrictEqual(fast, parseStrict(text, false, maxDepth, mode));
  }
  return true;
}

describe('parseCommonCase', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  it('answers for ordinary events (the case it exists for)', () => {
    for (const event of buildCorpus(50)) {
      expect(agrees(JSON.stringify(event))).toBe(true);
    }
    expect(agrees('{"a": [1, -2, 0, 123456789012345], "b": {"__proto__": "x"}}')).toBe(true);
  });

  it.each([
    ['a duplicate key', '{"a":1,"a":2}'],
    ['a nested duplicate key', '{"x":[{"k":1,"y":2,"k":3}]}'],
    ['a duplicate key holding ":', '{"\\":":1,"\\":":2}'],
    ['a duplicate key after an escaped backslash', '{"a\\\\":1,"a\\\\":2}'],
    ['a fraction that rounds to an integer', '{"a":1.0000000000000001}'],
    ['an exponent', '[1E5]'],
    ['a tiny exponent that rounds to 0', '[1e-400]'],
    ['an integral fraction', '2.0'],
    ['minus zero', '{"a":-0}'],
    ['minus zero at the top', ' -0 '],
    ['a bare integer (left to the strict parser)', '12'],
    ['a 16-digit integer', '[9007199254740993]'],
    ['an escaped lone surrogate', '"\\ud800"'],
    ['an escaped pair', '"\\ud83d\\ude00"'],
    ['an escaped high surrogate before a raw low one', '"\\ud83d\ude00"'],
    ['a raw lone surrogate', '["\udc00"]'],
    ['invalid JSON', '{"a":1,}'],
  ])('declines %s', (_name, text) => {
    expect(parseCommonCase(text, 512)).toBeUndefined();
  });

  it('declines a key with an escape: V8 (Node 24.21) can decode it as an earlier key', () => {
    // The engine's own mistake, reproduced: after a key `\`, an escaped `"` key of the same
    // escaped length came back as `\` (found by the round-trip property test).
    JSON.parse('{"":0,"\\\\":1}');
    for (const text of ['{"":0,"\\"":1}', '{"a\\nb":1}', '[{"x":"\\"", "\\u0041":2}]']) {
      expect(parseCommonCase(text, 512), text).toBeUndefined();
    }
    expect(Object.keys(parseJson('{"":0,"\\"":1}') as object)).toEqual(['', '"']);
    // Escapes in values alone, and a value that looks like a key's end, still take the fast path.
    expect(parseCommonCase('{"a":"x\\"y","b":["\\\\:"]}', 512)).toEqual({ a: 'x"y', b: ['\\:'] });
    // Many escaped quotes in one string: one linear scan (a per-quote rescan would be quadratic).
    const long = `{"k":"${'\\"'.repeat(200_000)}"}`;
    expect(parseCommonCase(long, 512)).toEqual({ k: '"'.repeat(200_000) });
  });

  it('declines nesting deeper than maxDepth, exactly where the strict parser stops', () => {
    expect(parseCommonCase('[[{"a":[]}]]', 3)).toBeUndefined();
    expect('error' in strict('[[{"a":[]}]]', 3)).toBe(true);
    expect(agrees('[[{"a":[]}]]', 4)).toBe(true);
    expect(parseCommonCase('{}', 0)).toBeUndefined();
    expect(agrees('"s"', 0)).toBe(true);
  });

  it('declines when Object.prototype was given an enumerable key', () => {
    (Object.prototype as Record<string, unknown>)['polluted'] = 1;
    expect(parseCommonCase('{"a":{"b":1}}', 512)).toBeUndefined();
  });

  it('still answers when a string holds ": (the key count only errs upwards)', () => {
    // The opening quote of ": b" looks like a key end, so the counts differ and it declines...
    expect(parseCommonCase('{"a":": b"}', 512)).toBeUndefined();
    // ...while an escaped quote inside a string is not counted.
    expect(agrees('{"a":"say \\":\\" twice"}')).toBe(true);
  });

  // Random texts written token by token, so that keys repeat, numbers take every awkward form
  // and strings hold quotes, colons, backslashes and surrogates, raw or escaped.
  const ws = fc.constantFrom('', ' ', '\n', '\t ');
  const key = fc.oneof(
    fc.constantFrom('a', 'b', '":', '\\', 'a\\', '__proto__', 'ü', '\u{1F600}'),
    fc.string({ unit: 'binary', maxLength: 4 }),
  );
  const number = fc.oneof(
    fc.constantFrom('0', '-0', '1.5', '2.0', '1e3', '1E-400', '-12', '9007199254740993'),
    fc.integer().map(String),
    fc.maxSafeInteger().map(String),
  );
  const stringToken = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 6 }).map((s) => JSON.stringify(s)),
    // Raw: without what JSON would have to escape, lone surrogates included.
    fc
      .string({ unit: 'binary', maxLength: 6 })
      // biome-ignore lint/suspicious/noControlCharactersInRegex: JSON escapes exactly these.
      .map((s) => `"${s.replace(/["\\\u0000-\u001f]/g, '')}"`),
    fc.constantFrom('"\\ud83d\\ude00"', '"\\u0041"', '": x"', '"\\\\"', '"\\":"'),
  );
  const text = fc.letrec<{ v: string }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      number,
      stringToken,
      fc.constantFrom('true', 'false', 'null'),
      fc
        .array(fc.tuple(ws, tie('v')), { maxLength: 4 })
        .map((items) => `[${items.map(([space, v]) => space + v).join(',')}]`),
      fc
        .array(fc.tuple(key, ws, tie('v')), { maxLength: 4 })
        .map(
          (entries) =>
            `{${entries.map(([k, space, v]) => `${JSON.stringify(k)}${space}:${space}${v}`).join(',')}}`,
        ),
    ),
  })).v;

  it('never answers differently from the strict parser on random texts', () => {
    let answered = 0;
    fc.assert(
      fc.property(text, fc.integer({ min: 0, max: 6 }), (t, depth) => {
        if (agrees(t, depth)) answered++;
      }),
      { numRuns: 3000 },
    );
    // The property is only meaningful if the fast path answers for a good share of the texts.
    expect(answered).toBeGreaterThan(300);
  });
});
