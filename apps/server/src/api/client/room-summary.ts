// GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1room_summaryroomidoralias
//
// The summary of a room, for a viewer who may preview it (services/spaces/summary.ts); without
// an access token only rooms anyone may join, knock on or read (the spec lets servers answer
// those unauthenticated). A room this server has no state for is asked of the `via` servers (and
// those a remote alias names) with the federation `GET /hierarchy` (services/spaces/remote.ts),
// as Synapse does, within one request's remote budget; its `allowed_room_ids` are not passed on.
// Without an access token no other server is asked (neither a remote alias's directory nor the
// `via` servers): only rooms known here are summarised. 404 when none answers, or when the
// viewer may not preview the room.
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { remoteBudget, sharedRemoteFetcher } from '../../services/spaces/remote.ts';
import {
  type SummarisedRoom,
  summariseRoom,
  userMayPreview,
} from '../../services/spaces/summary.ts';
import { parseRoomAlias } from './room-params.ts';
import { resolveRoomTarget } from './room-target.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomSummary(app: ClientApp, services: Services): void {
  const { rooms } = services;
  const remote = sharedRemoteFetcher(services.federation, services.ctx.config.serverName, () =>
    services.ctx.now(),
  );
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_summary/:roomIdOrAlias',
    auth: 'optional-user',
    versions: ['v1'],
    handler: async ({ params, query, user }) => {
      const target = params.roomIdOrAlias;
      if (
        user === undefined &&
        target.startsWith('#') &&
        services.federationQueries.isRemote(parseRoomAlias(target))
      ) {
        throw MatrixError.notFound('Room not found');
      }
      const { roomId, via } = await resolveRoomTarget(services, target, query);
      let room: SummarisedRoom | undefined = await summariseRoom(rooms, roomId);
      if (room === undefined && via.length > 0 && user !== undefined) {
        const answer = await remote(roomId, via, true, remoteBudget(1));
        if (answer !== undefined) {
          const { allowed_room_ids: allowed = [], ...summary } = answer.room;
          room = { summary, allowedRoomIds: allowed };
        }
      }
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
