/**
 * The one "is this a JSON object" test (an object, not an array, not null), shared by the API
 * layer and the services alike, as `lru-map.ts` is.
 */

/** True for a JSON object (not an array, not null). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
