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
    // No path in the message: it would quote the client's keys.
    if (holdsBigInt(json)) throw MatrixError.badJson('Invalid request body: integer-out-of-range');
    return json;
  },
} as const;

/** Whether `value` holds a `bigint` anywhere. */
function holdsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (typeof value !== 'object' || value === null) return false;
  for (const inner of Object.values(value)) if (holdsBigInt(inner)) return true;
  return false;
}
