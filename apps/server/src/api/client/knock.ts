// POST /_matrix/client/v3/knock/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3knockroomidoralias
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { resolveAlias } from '../../services/rooms/directory.ts';
import { knockRoom } from '../../services/rooms/knock.ts';
import { optionalString, parseRoomAlias, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Registers `POST /knock/{roomIdOrAlias}`: a room on this server directly, a room this server is
 * not in through `make_knock`/`send_knock` on `via` (and the alias' or room ID's server).
 */
export function registerKnock(app: ClientApp, services: Services): void {
  const { rooms, federationQueries, federationMembership } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/knock/:roomIdOrAlias',
    auth: 'user',
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, query, body, user }) => {
      const target = params.roomIdOrAlias;
      // Spec: `via` (and the deprecated `server_name`) name servers to knock through.
      const via = [...query.getAll('via'), ...query.getAll('server_name')];
      let roomId: string;
      if (target.startsWith('#')) {
        const alias = parseRoomAlias(target);
        if (federationQueries.isRemote(alias)) {
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
      const reason = optionalString(body, 'reason');
      const remote =
        services.ctx.config.federation.enabled &&
        (await federationMembership.needsRemoteJoin(roomId));
      const knocked = remote
        ? await federationMembership.knockRemote(roomId, user.userId, via, reason)
        : await knockRoom(rooms, roomId, user.userId, reason);
      return { room_id: knocked };
    },
  });
}
