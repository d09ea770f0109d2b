/**
 * The resident servers a join, a knock or an invite rejection on a room this server is not in
 * goes through, and the one loop over them all use (spec server-server-api "Joining Rooms",
 * "Knocking upon a room" and "Leaving Rooms (Rejecting Invites)": the homeserver asks a resident
 * server of the room for a template, then sends the signed event back to it). One loop, so they
 * stop on the same answers: a server that cannot be reached, or answers with its own failure
 * (a 404: it does not know the room; a 5xx), is followed by the next candidate, but a 403
 * `M_FORBIDDEN` is the room's answer (its join rules, bans or ACL), which every other resident
 * server would give too.
 */
import { MatrixError } from '@weft/transport';

import type { ServerContext } from '../../core/context.ts';

/** Candidate resident servers of `roomId`: the given ones, then the room ID's own, never us. */
export function candidateServers(
  roomId: string,
  via: readonly string[],
  ownServer: string,
): string[] {
  const out = [...via];
  // Room IDs before v12 name the server that created the room.
  const colon = roomId.indexOf(':');
  if (colon > 0) out.push(roomId.slice(colon + 1));
  return [...new Set(out)].filter((server) => server !== ownServer);
}

/** What the client is told when no server was tried, or none answered with a Matrix error. */
const MESSAGES = {
  join: {
    none: 'No known server can join this room',
    unreachable: 'No resident server could be reached to join the room',
  },
  knock: {
    none: 'No known server can knock on this room',
    unreachable: 'No resident server could be reached to knock on the room',
  },
  leave: {
    none: 'No known server can reject the invite to this room',
    unreachable: 'No resident server could be reached to reject the invite',
  },
} as const;

/**
 * Runs `attempt` through each of `servers` in turn until one succeeds, and returns its result.
 * A 403 `M_FORBIDDEN` ends the loop at once; otherwise the last server's Matrix error is thrown
 * (a 502 when the last failure was not one, e.g. a network error).
 */
export async function throughCandidateServers<T>(
  ctx: Pick<ServerContext, 'log'>,
  request: { readonly action: 'join' | 'knock' | 'leave'; readonly roomId: string },
  servers: readonly string[],
  attempt: (server: string) => Promise<T>,
): Promise<T> {
  const messages = MESSAGES[request.action];
  if (servers.length === 0) throw MatrixError.notFound(messages.none);
  let lastError: unknown;
  for (const server of servers) {
    try {
      return await attempt(server);
    } catch (error) {
      lastError = error;
      ctx.log.warn(`remote ${request.action} failed`, {
        room_id: request.roomId,
        server,
        error: String(error),
      });
      // A refusal by the room's rules is final; other servers would refuse the same.
      if (
        MatrixError.isInstance(error) &&
        error.errcode === 'M_FORBIDDEN' &&
        error.status === 403
      ) {
        throw error;
      }
    }
  }
  if (MatrixError.isInstance(lastError)) throw lastError;
  throw new MatrixError(502, 'M_UNKNOWN', messages.unreachable);
}
