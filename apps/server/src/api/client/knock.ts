// POST /_matrix/client/v3/knock/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3knockroomidoralias
import type { Services } from '../../services/index.ts';
import { knockRoom } from '../../services/rooms/knock.ts';
import { optionalString } from './room-params.ts';
import { resolveRoomTarget } from './room-target.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Registers `POST /knock/{roomIdOrAlias}`: a room on this server directly, a room this server is
 * not in through `make_knock`/`send_knock` on `via` (and the alias' or room ID's server).
 */
export function registerKnock(app: ClientApp, services: Services): void {
  const { rooms, federationMembership } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/knock/:roomIdOrAlias',
    auth: 'user',
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, query, body, user }) => {
      const { roomId, via } = await resolveRoomTarget(services, params.roomIdOrAlias, query);
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
