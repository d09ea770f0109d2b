// POST /_matrix/client/v3/knock/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3knockroomidoralias
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { resolveAlias } from '../../services/rooms/directory.ts';
import { knockRoom } from '../../services/rooms/knock.ts';
import { optionalString, parseRoomAlias, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Registers `POST /knock/{roomIdOrAlias}` (rooms on this server; aliases of this server). */
export function registerKnock(app: ClientApp, services: Services): void {
  const { rooms, federationQueries } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/knock/:roomIdOrAlias',
    auth: 'user',
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const target = params.roomIdOrAlias;
      let roomId: string;
      if (target.startsWith('#')) {
        const alias = parseRoomAlias(target);
        const resolved = federationQueries.isRemote(alias)
          ? (await federationQueries.remoteAlias(alias))?.roomId
          : await resolveAlias(rooms, alias);
        if (resolved === undefined) throw MatrixError.notFound('Room alias not found');
        roomId = resolved;
      } else {
        roomId = parseRoomId(target);
      }
      return {
        room_id: await knockRoom(rooms, roomId, user.userId, optionalString(body, 'reason')),
      };
    },
  });
}
