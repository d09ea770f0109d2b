/**
 * A lower bound for any canonical JSON encoder written in JavaScript: visit every value, check
 * its type (integers in range, strings without escapes or surrogates by one regular-expression
 * test), list and sort every object's keys, and produce no output at all. The benchmark runs it
 * next to the encoders to show how much of their time is this unavoidable walk.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the same test the encoder makes.
const STRING_NEEDS_CARE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** Returns a count so the engine cannot drop the walk as dead code. */
export function walkOnly(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return STRING_NEEDS_CARE.test(value) ? 2 : 1;
    case 'number':
      return Number.isSafeInteger(value) ? 1 : 0;
    case 'object': {
      if (value === null) return 1;
      let count = 0;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) count += walkOnly(value[i]);
        return count;
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      for (let i = 0; i < keys.length; i++) count += walkOnly(record[keys[i] as string]);
      return count;
    }
    default:
      return 1;
  }
}
