// POST /_matrix/client/v3/join/{roomIdOrAlias}, POST /_matrix/client/v3/rooms/{roomId}/join
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3joinroomidoralias
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidjoin

import type { Services } from '../../services/index.ts';
import { joinRoom } from '../../services/rooms/membership.ts';
import { optionalString, parseRoomId } from './room-params.ts';
import { resolveRoomTarget } from './room-target.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerJoin(app: ClientApp, services: Services): void {
  const { rooms, federationMembership } = services;
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
      const { roomId, via } = await resolveRoomTarget(services, params.roomIdOrAlias, query);
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
