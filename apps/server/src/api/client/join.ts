// POST /_matrix/client/v3/join/{roomIdOrAlias}, POST /_matrix/client/v3/rooms/{roomId}/join
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3joinroomidoralias
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidjoin
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { resolveAlias } from '../../services/rooms/directory.ts';
import { joinRoom } from '../../services/rooms/membership.ts';
import { optionalString, parseRoomAlias, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerJoin(app: ClientApp, services: Services): void {
  const { rooms, federationMembership, federationQueries } = services;
  // A room whose state this server lacks is joined through a resident server (federation).
  const join = async (
    roomId: string,
    userId: string,
    via: readonly string[],
    reason: string | undefined,
  ): Promise<string> =>
    (await federationMembership.needsRemoteJoin(roomId))
      ? federationMembership.joinRemote(roomId, userId, via, reason)
      : joinRoom(rooms, roomId, userId, reason);
  clientEndpoint(app, {
    method: 'POST',
    path: '/join/:roomIdOrAlias',
    auth: 'user',
    // The spec makes the whole body optional; clients may send none.
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, query, body, user }) => {
      const target = params.roomIdOrAlias;
      // Spec: `via` (and the deprecated `server_name`) name servers to join through.
      const via = [...query.getAll('via'), ...query.getAll('server_name')];
      let roomId: string;
      if (target.startsWith('#')) {
        const alias = parseRoomAlias(target);
        if (federationQueries.isRemote(alias)) {
          // A remote alias: its server says which room and which servers are in it.
          const resolved = await federationQueries.remoteAlias(alias);
          if (resolved === undefined) throw MatrixError.notFound('Room alias not found');
          roomId = resolved.roomId;
          via.push(...resolved.servers);
        } else {
          const resolved = await resolveAlias(rooms, alias);
          if (resolved === undefined) throw MatrixError.notFound('Room alias not found');
          roomId = resolved;
        }
      } else {
        roomId = parseRoomId(target);
      }
      return { room_id: await join(roomId, user.userId, via, optionalString(body, 'reason')) };
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/join',
    auth: 'user',
    // The spec makes the whole body optional; clients may send none.
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const roomId = parseRoomId(params.roomId);
      return { room_id: await join(roomId, user.userId, [], optionalString(body, 'reason')) };
    },
  });
}
