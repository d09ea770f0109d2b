/**
 * JSON paths for error reports: `$` for the root, `.name` for keys that look like identifiers,
 * `["…"]` (JSON-quoted) for any other key, `[3]` for array indices.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Long keys are cut so an error message stays readable whatever the input holds. */
const MAX_KEY_IN_PATH = 64;

/** One step of a path: an object key or an array index. */
export type PathSegment = string | number;

/** Formats path segments (outermost first) as a JSON path string. */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = '$';
  for (const segment of segments) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
    } else if (IDENTIFIER.test(segment)) {
      out += `.${segment}`;
    } else {
      const shown =
        segment.length > MAX_KEY_IN_PATH ? `${segment.slice(0, MAX_KEY_IN_PATH)}…` : segment;
      // JSON.stringify quotes and escapes; a lone surrogate comes out as a \u escape.
      out += `[${JSON.stringify(shown)}]`;
    }
  }
  return out;
}
