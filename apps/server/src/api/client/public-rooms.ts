// GET/POST /_matrix/client/v3/publicRooms, GET/PUT /_matrix/client/v3/directory/list/room/{roomId}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3publicrooms
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3publicrooms
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3directorylistroomroomid
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3directorylistroomroomid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import {
  directoryVisibility,
  parseRoomTypes,
  publicRooms,
  setDirectoryVisibility,
} from '../../services/rooms/directory.ts';
import { isObject, optionalString, parseLimit, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerPublicRooms(app: ClientApp, services: Services): void {
  const { rooms } = services;
  const serverName = services.ctx.config.serverName;
  const checkServer = (server: string | null | undefined) => {
    if (server != null && server !== serverName) {
      throw MatrixError.notFound('Room directories of other servers are not available');
    }
  };

  clientEndpoint(app, {
    method: 'GET',
    path: '/publicRooms',
    auth: 'optional-user',
    handler: async ({ query }) => {
      checkServer(query.get('server'));
      return publicRooms(rooms, {
        limit: query.get('limit') === null ? undefined : parseLimit(query.get('limit'), 0, 1000),
        since: query.get('since') ?? undefined,
      });
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/publicRooms',
    auth: 'user',
    handler: async ({ query, body }) => {
      checkServer(query.get('server'));
      const limit = body['limit'];
      if (limit !== undefined && (!Number.isInteger(limit) || (limit as number) < 0)) {
        throw MatrixError.badJson('limit must be a non-negative integer');
      }
      const filter = body['filter'];
      if (filter !== undefined && filter !== null && !isObject(filter)) {
        throw MatrixError.badJson('filter must be an object');
      }
      return publicRooms(rooms, {
        limit: limit === undefined ? undefined : Math.min(limit as number, 1000),
        since: optionalString(body, 'since'),
        searchTerm: isObject(filter) ? optionalString(filter, 'generic_search_term') : undefined,
        roomTypes: isObject(filter) ? parseRoomTypes(filter) : undefined,
      });
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/directory/list/room/:roomId',
    auth: 'none',
    handler: async ({ params }) => ({
      visibility: await directoryVisibility(rooms, parseRoomId(params.roomId)),
    }),
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/directory/list/room/:roomId',
    auth: 'user',
    handler: async ({ params, body, user }) => {
      const visibility = body['visibility'] ?? 'public';
      if (visibility !== 'public' && visibility !== 'private') {
        throw MatrixError.badJson('visibility must be public or private');
      }
      await setDirectoryVisibility(rooms, parseRoomId(params.roomId), user.userId, visibility);
      return {};
    },
  });
}
