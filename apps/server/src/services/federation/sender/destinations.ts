/**
 * Which servers an event goes to (spec server-server-api "PDUs": "sent to all servers in the
 * room"): the servers of the room's joined members after the event, plus — for a membership
 * event — the target's server (an invited or kicked user's server must hear of it).
 */
import type { SqlExecutor } from '../../../storage/index.ts';
import { usersSharingRoomsWith } from '../../rooms/room-store.ts';

/** The server part of a user ID. */
export function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** The servers of `members`, plus `extra`, minus `self`, sorted. */
export function destinationsOf(
  members: readonly string[],
  self: string,
  extra: readonly string[] = [],
): string[] {
  return destinationsAmong(members.map(serverOf), self, extra);
}

/** `servers`, plus `extra`, minus `self`, distinct and sorted. */
export function destinationsAmong(
  servers: Iterable<string>,
  self: string,
  extra: readonly string[] = [],
): string[] {
  const out = new Set(servers);
  for (const server of extra) out.add(server);
  out.delete(self);
  return [...out].sort();
}

/** Other servers with users sharing a joined room with `userId`, minus `self`. */
export async function serversSharingRoomsWith(
  db: SqlExecutor,
  userId: string,
  self: string,
): Promise<string[]> {
  const servers = new Set((await usersSharingRoomsWith(db, userId)).map(serverOf));
  servers.delete(self);
  return [...servers];
}
