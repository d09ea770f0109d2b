/**
 * Shared input checks of the room endpoints: user IDs, room IDs and aliases (spec appendices
 * "Identifier Grammar"), optional strings and objects in request bodies.
 */
import { MatrixError } from '@weft/transport';

export { isObject } from '../../json-object.ts';

/** An optional string field; 400 M_BAD_JSON when present with another type. */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw MatrixError.badJson(`${key} must be a string`);
  return value;
}

/** A required string field. */
export function requiredString(body: Record<string, unknown>, key: string): string {
  const value = optionalString(body, key);
  if (value === undefined) throw MatrixError.badJson(`${key} is required`);
  return value;
}

/** Spec "User Identifiers": `@localpart:server`, at most 255 bytes. */
export function parseUserId(value: string, what = 'user_id'): string {
  if (!/^@[^:\s]+:[A-Za-z0-9.\-[\]:]+$/.test(value) || value.length > 255) {
    throw new MatrixError(400, 'M_INVALID_PARAM', `${what}: not a valid user ID`);
  }
  return value;
}

/** Spec "Room IDs": `!opaque` (v12) or `!opaque:server`. */
export function parseRoomId(value: string): string {
  if (!/^![^\s]+$/.test(value) || value.length > 255) {
    throw new MatrixError(400, 'M_INVALID_PARAM', 'Not a valid room ID');
  }
  return value;
}

/** Spec "Room Aliases": `#localpart:server`. */
export function parseRoomAlias(value: string): string {
  if (!/^#[^:\s]+:[A-Za-z0-9.\-[\]:]+$/.test(value) || value.length > 255) {
    throw new MatrixError(400, 'M_INVALID_PARAM', 'Not a valid room alias');
  }
  return value;
}

/** A `limit` query parameter: a non-negative integer, capped. */
export function parseLimit(raw: string | null, fallback: number, max: number): number {
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw MatrixError.invalidParam('limit must be a non-negative integer');
  return Math.min(value, max);
}
