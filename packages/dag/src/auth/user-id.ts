/**
 * User ID and server name syntax (spec appendices "User Identifiers", "Historical User IDs",
 * "Server Name").
 *
 * Events over federation must accept historical user IDs: any localpart without `:` or NUL,
 * even empty. Only the overall shape, the server name and the 255-byte limit are enforced.
 */

const MAX_ID_BYTES = 255;
const encoder = new TextEncoder();

/** Length of `s` in UTF-8 bytes (the spec's size limits are in bytes). */
export function utf8Length(s: string): number {
  // Fast path: ASCII strings are one byte per UTF-16 unit.
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return encoder.encode(s).length;
  }
  return s.length;
}

// server_name = hostname [ ":" port ]; hostname = IPv4 / "[" IPv6 "]" / dns-name (appendices).
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.-]{1,255})(?::[0-9]{1,5})?$/;

/** True when `name` is a syntactically valid server name. */
export function isValidServerName(name: string): boolean {
  return SERVER_NAME.test(name);
}

/** The server name part of an `@localpart:server` or `!opaque:server` ID, or `undefined`. */
export function serverNameOf(id: string): string | undefined {
  const colon = id.indexOf(':');
  return colon < 0 ? undefined : id.slice(colon + 1);
}

/**
 * True when `id` is a user ID a server must accept over federation: `@`, a historical localpart
 * (no `:` or NUL), `:`, a valid server name, at most 255 bytes.
 */
export function isValidUserId(id: unknown): id is string {
  if (typeof id !== 'string' || id.length < 3 || id[0] !== '@') return false;
  if (utf8Length(id) > MAX_ID_BYTES) return false;
  const colon = id.indexOf(':');
  if (colon < 0 || id.slice(1, colon).includes('\u0000')) return false;
  return isValidServerName(id.slice(colon + 1));
}
