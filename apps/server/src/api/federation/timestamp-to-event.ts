// GET /_matrix/federation/v1/timestamp_to_event/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1timestamp_to_eventroomid
//
// The closest event of this server's timeline of the room to `ts` in direction `dir`, for a
// server that is in the room (and not denied by its ACL), as the other room-scoped read
// endpoints require; events the server may not see by history visibility are skipped.
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import { serverMaySee } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import { eventVisibilityForServer } from '../../services/rooms/event-visibility.ts';
import { eventByTimestamp } from '../../services/rooms/timestamp.ts';
import { parseTimestampQuery } from '../client/timestamp-to-event.ts';
import type { FederationApp } from './routes.ts';

export function registerTimestampToEvent(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/timestamp_to_event/:roomId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      const { ts, dir } = parseTimestampQuery(query);
      const roomId = params.roomId;
      if (!(await serverMaySee(services, roomId, origin))) {
        throw MatrixError.forbidden('Your server is not in this room');
      }
      await requireServerAllowed(services.ctx.db, roomId, origin);
      const db = services.ctx.db;
      const event = await eventByTimestamp(services.rooms, {
        roomId,
        ts,
        dir,
        visible: async (events) => {
          const ids = await eventVisibilityForServer(db, roomId, origin, events);
          return events.filter((event) => ids.has(event.eventId));
        },
      });
      if (event === undefined) {
        throw MatrixError.notFound(
          `Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`,
        );
      }
      return { event_id: event.eventId, origin_server_ts: event.originServerTs };
    },
  });
}
