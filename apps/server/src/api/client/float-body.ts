/**
 * Bodies that may hold floats: account data and room tags are not events, so canonical JSON's
 * integer-only rule does not bind them, and clients write floats there (a tag's `order` is "a
 * number between 0 and 1", https://spec.matrix.org/v1.19/client-server-api/#room-tagging).
 * The body is parsed with floats kept (`legacyNumbers`); an integer beyond ±(2^53 − 1), which
 * that mode reads as a `bigint`, is still refused: no JSON number can carry it to a client.
 */
import { MatrixError } from '@weft/transport';

/** Endpoint options for a JSON body whose numbers may be floats. */
export const FLOAT_BODY = {
  legacyNumbers: true,
  parseBody: (json: Record<string, unknown>): Record<string, unknown> => {
    const path = bigIntPath(json, '$');
    if (path !== undefined) {
      throw MatrixError.badJson(`Invalid request body: integer-out-of-range at ${path}`);
    }
    return json;
  },
} as const;

/** The JSON path of the first `bigint` in `value`, or `undefined`. */
function bigIntPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'bigint') return path;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = bigIntPath(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    const found = bigIntPath(inner, `${path}.${key}`);
    if (found !== undefined) return found;
  }
  return undefined;
}
