/**
 * Plain header objects for responses. HTTP field names are case-insensitive (RFC 9110 §5.1),
 * but a plain object's keys are not: `{ 'Retry-After': '3', 'retry-after': '99' }` goes out
 * as two fields from Node's `writeHead` and reads as `3, 99` through `Headers`. Responses keep
 * plain objects (the Node adapter writes them as they are, where a `Headers` instance is
 * converted back field by field), so merging is done here, by lower-cased name.
 */

/**
 * One header object from `sources`, in order: a later source's field replaces an earlier one of
 * the same name in any letter case (and takes its spelling).
 */
export function mergeHeaders(
  ...sources: readonly Readonly<Record<string, string>>[]
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const source of sources) {
    for (const name in source) {
      const value = source[name];
      if (value === undefined) continue;
      // A response has a handful of fields: a scan is cheaper than an index of lower-cased names.
      const lower = name.toLowerCase();
      for (const existing in merged) {
        if (existing !== name && existing.toLowerCase() === lower) delete merged[existing];
      }
      merged[name] = value;
    }
  }
  return merged;
}

/** The content type of every JSON answer (spec: "Servers must include …"). */
export const JSON_CONTENT_TYPE: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'application/json',
});

/** Reads a request header by name, in any letter case (as fetch's `Headers.get` does). */
export interface HeaderLookup {
  get(name: string): string | null;
}
