/**
 * Server ACLs (spec server-server-api "Server Access Control Lists (ACLs)" and the
 * `m.room.server_acl` event schema): a room's current `m.room.server_acl` state decides which
 * servers may make room-scoped requests. In the spec's order:
 * 1. no ACL in the room state → allow;
 * 2. an IP literal server name while `allow_ip_literals` is `false` → deny;
 * 3. a match in `deny` → deny; 4. a match in `allow` → allow; 5. otherwise deny.
 * Patterns are case-insensitive globs (appendices "Glob-style matching": `*` any run of
 * characters, `?` exactly one) matched against the server name without its port.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';

/** A parsed `m.room.server_acl` content. */
export interface ServerAcl {
  readonly allow: readonly RegExp[];
  readonly deny: readonly RegExp[];
  readonly allowIpLiterals: boolean;
}

/** A glob as an anchored, case-insensitive regular expression. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

function patterns(value: unknown): RegExp[] {
  if (!Array.isArray(value)) return [];
  return value.filter((entry): entry is string => typeof entry === 'string').map(globToRegExp);
}

/**
 * Parses an ACL content. Missing or malformed lists are empty (so a missing `allow` denies
 * everyone, as the spec warns); `allow_ip_literals` is `true` unless it is the boolean `false`.
 */
export function parseServerAcl(content: unknown): ServerAcl {
  const object = typeof content === 'object' && content !== null ? content : {};
  const fields = object as Record<string, unknown>;
  return {
    allow: patterns(fields['allow']),
    deny: patterns(fields['deny']),
    allowIpLiterals: fields['allow_ip_literals'] !== false,
  };
}

/** The host part of a server name (`name:port` → `name`, `[::1]:8448` → `[::1]`). */
function hostOf(serverName: string): string {
  if (serverName.startsWith('[')) {
    const end = serverName.indexOf(']');
    return end < 0 ? serverName : serverName.slice(0, end + 1);
  }
  const colon = serverName.lastIndexOf(':');
  return colon < 0 ? serverName : serverName.slice(0, colon);
}

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || (host.startsWith('[') && host.endsWith(']'));
}

/** Steps 2-5 for a room that has an ACL. */
export function serverAllowed(acl: ServerAcl, serverName: string): boolean {
  const host = hostOf(serverName);
  if (!acl.allowIpLiterals && isIpLiteral(host)) return false;
  if (acl.deny.some((pattern) => pattern.test(host))) return false;
  return acl.allow.some((pattern) => pattern.test(host));
}

/** Parsed ACLs by `event ID` (+ redaction): an event's content never changes otherwise. */
const parsed = new Map<string, ServerAcl>();
const MAX_CACHED = 1_000;

/** The room's current ACL, or `undefined` when its state has none (step 1). */
export async function currentServerAcl(
  db: SqlExecutor,
  roomId: string,
): Promise<ServerAcl | undefined> {
  const row = await db.queryOne<{ event_id: string; pdu: string; redacted_by: string | null }>(
    `SELECT e.event_id, e.pdu, e.redacted_by FROM room_current_state s
       JOIN events e ON e.event_id = s.event_id
     WHERE s.room_id = $1 AND s.type = 'm.room.server_acl' AND s.state_key = ''`,
    [roomId],
  );
  if (row === undefined) return undefined;
  const key = `${row.event_id}\u0000${row.redacted_by ?? ''}`;
  let acl = parsed.get(key);
  if (acl === undefined) {
    // Redaction keeps no content key of this event type: a redacted ACL denies every server.
    const content =
      row.redacted_by === null ? (parseAnyJson(row.pdu) as Record<string, unknown>)['content'] : {};
    acl = parseServerAcl(content);
    if (parsed.size >= MAX_CACHED) parsed.clear();
    parsed.set(key, acl);
  }
  return acl;
}

/** Whether `serverName` may make requests about `roomId` under its current ACL. */
export async function serverAllowedInRoom(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
): Promise<boolean> {
  const acl = await currentServerAcl(db, roomId);
  return acl === undefined || serverAllowed(acl, serverName);
}

/**
 * Refuses a room-scoped federation request from a denied server: 403 `M_FORBIDDEN`, as the
 * spec requires of every protected endpoint.
 */
export async function requireServerAllowed(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
): Promise<void> {
  if (!(await serverAllowedInRoom(db, roomId, serverName))) {
    throw MatrixError.forbidden('Server is banned from this room by its server ACL');
  }
}
