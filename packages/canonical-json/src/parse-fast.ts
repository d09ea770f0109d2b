/**
 * The common case of `parseJson`, handed to the engine's `JSON.parse`.
 *
 * Most texts a server receives obey every rule `parseJson` adds to RFC 8259, and the native
 * parser builds their values about 2.5 times faster than the strict parser in `parse.ts`. This
 * module proves, from the text and the parsed value, that the strict parser would return exactly
 * the same value; whenever it cannot (and whenever JSON.parse fails), it answers `undefined` and
 * the strict parser runs, so every error, code, path and position still comes from there. The
 * tests check the two paths against each other on random and hand-made texts.
 *
 * What JSON.parse does not check, and how it is ruled out here:
 * - unpaired surrogates: the text must be well-formed UTF-16 and hold no `\u` escape of a
 *   surrogate (an escaped pair is rare, and goes to the strict parser);
 * - numbers: no number may have a fraction or exponent, 16 or more digits, or be `-0`, and the
 *   text may not be a bare number; what remains is an integer of at most 15 digits, exactly the
 *   value the strict parser returns;
 * - duplicate keys (JSON.parse keeps the last one): the keys in the text are counted and must
 *   equal the keys in the value;
 * - nesting deeper than `maxDepth`: measured on the value.
 *
 * And where JSON.parse itself is wrong: V8 in Node 24.21 (and 26.10) can decode an escaped key
 * as another key it met before (after `{"":0,"\\":1}`,
 * `{"":0,"\"":1}` parses with the key `\`), so a text with an escape in any key goes to the
 * strict parser (found by the round-trip property test, 2026-11-29).
 */

// Inside a text, a JSON value follows `:`, `[` or `,` (and whitespace). After such a point: a
// number with a fraction or exponent, a 16-digit number (may pass 2**53 - 1), or `-0`. Inside
// strings the same characters can match too; that only sends a text to the strict parser.
// (Leaving out "or the start of the text" makes the scan about twice as fast; a text that is a
// bare number is left to the strict parser instead.)
// Second alternative: `\u` escapes of surrogates (an escaped backslash followed by `u` also
// matches, harmlessly). One scan for both is a third cheaper than two.
const NEEDS_STRICT_PARSER =
  /[:,[][ \t\n\r]*(?:-?[0-9]+[.eE]|-?[0-9]{16}|-0(?![0-9]))|\\u[dD][89abcdefABCDEF]/;
const STARTS_WITH_NUMBER = /^[ \t\n\r]*[-0-9]/;
// The end of a key: an unescaped quote (an even run of backslashes before it), whitespace and a
// colon. In valid JSON every key ends so and a value string never does; a string holding `":`
// can add matches but never hide one, so a duplicate key always leaves the count too high.
const KEY_END = /(?<!\\)(?:\\\\)*"[ \t\n\r]*:/g;
// Every string of a text, in order, each read once (the unrolled `"[^"\\]*(?:\\.[^"\\]*)*"`, so
// the scan is linear however many escapes it holds): group 1 is set when it holds an escape,
// group 2 when a colon follows (a key).
const STRING_TOKEN = /"[^"\\]*(?:(\\)[\s\S][^"\\]*(?:\\[\s\S][^"\\]*)*)?"[ \t\n\r]*(:)?/g;

/** Captured at load, so later changes to the global cannot reach the parser. */
const nativeParse = JSON.parse;

const TOO_DEEP = -1;

/**
 * The value `text` parses to, when the strict parser is sure to return the same; otherwise
 * `undefined` (a JSON text never parses to `undefined`).
 */
export function parseCommonCase(text: string, maxDepth: number): unknown {
  if (!(text as unknown as { isWellFormed(): boolean }).isWellFormed()) return undefined;
  if (STARTS_WITH_NUMBER.test(text) || NEEDS_STRICT_PARSER.test(text)) return undefined;
  if (hasEscapedKey(text)) return undefined;
  let value: unknown;
  try {
    value = nativeParse(text);
  } catch {
    return undefined;
  }
  const keys = countKeys(value, 0, maxDepth);
  if (keys === TOO_DEEP || keys !== countKeyEnds(text)) return undefined;
  return value;
}

/** Whether a key of `text` holds an escape (see the module comment: V8's JSON.parse). */
export function hasEscapedKey(text: string): boolean {
  // No backslash, no escape: most texts skip the scan.
  if (!text.includes('\\')) return false;
  STRING_TOKEN.lastIndex = 0;
  for (let token = STRING_TOKEN.exec(text); token !== null; token = STRING_TOKEN.exec(text)) {
    if (token[1] !== undefined && token[2] !== undefined) return true;
  }
  return false;
}

function countKeyEnds(text: string): number {
  KEY_END.lastIndex = 0;
  let count = 0;
  while (KEY_END.test(text)) count++;
  return count;
}

/**
 * Keys in every object of `value` (parents at `depth`), or TOO_DEEP past `maxDepth`. `for…in`
 * also counts enumerable keys a polluted `Object.prototype` would add; that only makes the count
 * differ and sends the text to the strict parser.
 */
function countKeys(value: unknown, depth: number, maxDepth: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth >= maxDepth) return TOO_DEEP;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = countKeys(value[i], depth + 1, maxDepth);
      if (inner === TOO_DEEP) return TOO_DEEP;
      count += inner;
    }
    return count;
  }
  const record = value as Record<string, unknown>;
  for (const key in record) {
    const inner = countKeys(record[key], depth + 1, maxDepth);
    if (inner === TOO_DEEP) return TOO_DEEP;
    count += 1 + inner;
  }
  return count;
}
