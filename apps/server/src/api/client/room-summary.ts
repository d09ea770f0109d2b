// GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1room_summaryroomidoralias
//
// The summary of a room this server knows, for a viewer who may preview it (services/spaces/
// summary.ts); without an access token only rooms anyone may join, knock on or read (the spec
// lets servers answer those unauthenticated). A room this server does not know is not fetched
// from the `via` servers: 404, as for a room the viewer may not preview.
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { summariseRoom, userMayPreview } from '../../services/spaces/summary.ts';
import { resolveRoomTarget } from './room-target.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomSummary(app: ClientApp, services: Services): void {
  const { rooms } = services;
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_summary/:roomIdOrAlias',
    auth: 'optional-user',
    versions: ['v1'],
    handler: async ({ params, query, user }) => {
      const { roomId } = await resolveRoomTarget(services, params.roomIdOrAlias, query);
      const room = await summariseRoom(rooms, roomId);
      if (room === undefined || !(await userMayPreview(rooms.ctx.db, room, user?.userId))) {
        throw MatrixError.notFound('Room not found');
      }
      if (user === undefined) return { ...room.summary };
      // As Synapse: a viewer with no membership is told `leave`.
      const membership = (await rooms.membership(roomId, user.userId))?.membership ?? 'leave';
      return { ...room.summary, membership };
    },
  });
}
