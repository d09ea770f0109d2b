/**
 * fast-check generators for JSON values that stress canonical JSON: keys and strings mixing
 * ASCII, the escaped range U+0000–U+001F, `"` and `\`, U+007F/U+2028/U+2029 (emitted raw),
 * U+E000–U+FFFF and astral characters (whose relative order differs between UTF-16 and code
 * points), plus integers up to the bounds.
 */
import fc from 'fast-check';

const codePoint = (min: number, max: number) =>
  fc.integer({ min, max }).map((cp) => String.fromCodePoint(cp));

/** One code point, weighted towards the characters that matter for canonical JSON. */
export const interestingChar = fc.oneof(
  { weight: 4, arbitrary: codePoint(0x20, 0x7e) },
  { weight: 2, arbitrary: codePoint(0x00, 0x1f) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('"', '\\', '/', '\u007f', '\u2028', '\u2029', '\ufeff'),
  },
  { weight: 1, arbitrary: codePoint(0x80, 0xd7ff) },
  { weight: 2, arbitrary: codePoint(0xe000, 0xffff) },
  { weight: 2, arbitrary: codePoint(0x10000, 0x10ffff) },
);

export const interestingString = fc.string({ unit: interestingChar, maxLength: 8 });

// A small pool makes random objects share shapes and first keys, as real events do.
const key = fc.oneof(
  { weight: 8, arbitrary: interestingString },
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'd', 'type', 'content', 'sender') },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '0', '10', '9') },
);

const integer = fc.oneof(
  fc.maxSafeInteger(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, -(2 ** 31), 1e10),
);

/** Any canonical-JSON-encodable value (never `-0`, which encodes as `0`). */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    integer,
    interestingString,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(key, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
})).value;
