/**
 * `IN (…)` lists of bound values, in the SQL subset both databases speak. A list is cut into
 * chunks: SQLite refuses more than 32,766 bound values per statement and PostgreSQL 65,535, and
 * one statement text per list length fills the prepared-statement cache, so a few hundred per
 * statement keeps both in bounds.
 */

/** Most values bound in one `IN (…)` list. */
export const IN_LIST_CHUNK = 500;

/** `$1, $2, …, $n` (numbered from `start`). */
export function placeholders(n: number, start = 1): string {
  return Array.from({ length: n }, (_, i) => `$${i + start}`).join(', ');
}

/** `values` in consecutive chunks of at most {@link IN_LIST_CHUNK}. */
export function* inListChunks<T>(values: readonly T[]): Generator<T[]> {
  for (let i = 0; i < values.length; i += IN_LIST_CHUNK) {
    yield values.slice(i, i + IN_LIST_CHUNK);
  }
}

/**
 * A statement's text for `count` bound rows or entries, built by `build` once per count and kept
 * for counts up to `maxKept` (larger counts are built each time, so the kept texts stay few):
 * a statement asked with the same count each time then reaches the statement cache by a string
 * whose hash is already known.
 */
export function textPerCount(
  build: (count: number) => string,
  maxKept: number,
): (count: number) => string {
  const texts = new Map<number, string>();
  return (count) => {
    let text = texts.get(count);
    if (text === undefined) {
      text = build(count);
      if (count <= maxKept) texts.set(count, text);
    }
    return text;
  };
}
