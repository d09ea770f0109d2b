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
  const { rooms } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/join/:roomIdOrAlias',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const target = params.roomIdOrAlias;
      let roomId: string;
      if (target.startsWith('#')) {
        const resolved = await resolveAlias(rooms, parseRoomAlias(target));
        if (resolved === undefined) throw MatrixError.notFound('Room alias not found');
        roomId = resolved;
      } else {
        roomId = parseRoomId(target);
      }
      return {
        room_id: await joinRoom(rooms, roomId, user.userId, optionalString(body, 'reason')),
      };
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/join',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const roomId = parseRoomId(params.roomId);
      return {
        room_id: await joinRoom(rooms, roomId, user.userId, optionalString(body, 'reason')),
      };
    },
  });
}
