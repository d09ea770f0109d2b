// PUT/GET/DELETE /_matrix/client/v3/directory/room/{roomAlias}, GET /_matrix/client/v3/rooms/{roomId}/aliases
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3directoryroomroomalias
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3directoryroomroomalias
// https://spec.matrix.org/v1.19/client-server-api/#delete_matrixclientv3directoryroomroomalias
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidaliases
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import {
  aliasesOf,
  createAlias,
  deleteAlias,
  resolveAlias,
} from '../../services/rooms/directory.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { parseRoomAlias, parseRoomId, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomAliases(app: ClientApp, services: Services): void {
  const { rooms } = services;
  const serverName = services.ctx.config.serverName;
  const localAlias = (raw: string): string => {
    const alias = parseRoomAlias(raw);
    if (alias.slice(alias.indexOf(':') + 1) !== serverName) {
      throw new MatrixError(400, 'M_INVALID_PARAM', 'Alias must be on this server');
    }
    return alias;
  };

  clientEndpoint(app, {
    method: 'PUT',
    path: '/directory/room/:roomAlias',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const alias = localAlias(params.roomAlias);
      const roomId = parseRoomId(requiredString(body, 'room_id'));
      await createAlias(rooms, alias, roomId, user.userId);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/directory/room/:roomAlias',
    auth: 'none',
    handler: async ({ params }) => {
      const alias = parseRoomAlias(params.roomAlias);
      if (services.federationQueries.isRemote(alias)) {
        const remote = await services.federationQueries.remoteAlias(alias);
        if (remote === undefined) throw MatrixError.notFound('Room alias not found');
        return { room_id: remote.roomId, servers: remote.servers };
      }
      const roomId = await resolveAlias(rooms, alias);
      if (roomId === undefined) throw MatrixError.notFound('Room alias not found');
      return { room_id: roomId, servers: [serverName] };
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/directory/room/:roomAlias',
    auth: 'user',
    handler: async ({ params, user }) => {
      await deleteAlias(rooms, localAlias(params.roomAlias), user.userId);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/aliases',
    auth: 'user',
    handler: async ({ params, user }) => {
      const roomId = parseRoomId(params.roomId);
      // Spec: "can be called by users who are in the room (external users receive an
      // M_FORBIDDEN error response)", or by anyone when the room is world_readable; a user who
      // left or was banned is external now.
      const view = await roomView(rooms, roomId, user.userId);
      if (!view.joined) {
        const visibility = await rooms.currentStateEvent(roomId, 'm.room.history_visibility', '');
        const content = visibility?.pdu['content'] as Record<string, unknown> | undefined;
        if (content?.['history_visibility'] !== 'world_readable') {
          throw MatrixError.forbidden('You are not a member of this room');
        }
      }
      return { aliases: await aliasesOf(rooms, roomId) };
    },
  });
}
