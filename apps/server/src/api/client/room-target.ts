// The `{roomIdOrAlias}` of POST /join and POST /knock, with the servers to go through.
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3joinroomidoralias
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { resolveAlias } from '../../services/rooms/directory.ts';
import { parseRoomAlias, parseRoomId } from './room-params.ts';

/** A room to join or knock on, and the servers (`via`) that can take a remote request. */
export interface RoomTarget {
  readonly roomId: string;
  readonly via: readonly string[];
}

/**
 * Resolves a room ID or alias. `via` (and the deprecated `server_name`) come from the query; a
 * remote alias adds the servers its directory names (spec: they are in the room).
 * @throws MatrixError `M_NOT_FOUND` for an unknown alias, `M_INVALID_PARAM` for a malformed target.
 */
export async function resolveRoomTarget(
  services: Services,
  target: string,
  query: URLSearchParams,
): Promise<RoomTarget> {
  const via = [...query.getAll('via'), ...query.getAll('server_name')];
  if (!target.startsWith('#')) return { roomId: parseRoomId(target), via };
  const alias = parseRoomAlias(target);
  if (services.federationQueries.isRemote(alias)) {
    const resolved = await services.federationQueries.remoteAlias(alias);
    if (resolved === undefined) throw MatrixError.notFound('Room alias not found');
    return { roomId: resolved.roomId, via: [...via, ...resolved.servers] };
  }
  const roomId = await resolveAlias(services.rooms, alias);
  if (roomId === undefined) throw MatrixError.notFound('Room alias not found');
  return { roomId, via };
}
