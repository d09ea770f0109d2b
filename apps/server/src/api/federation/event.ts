// GET /_matrix/federation/v1/event/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1eventeventid
import { MatrixError } from '@weft/transport';

import { serverAllowedInRoom } from '../../services/federation/acl.ts';
import { pdusForServer, serverMaySee } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerEvent(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/event/:eventId',
    auth: 'server',
    handler: async ({ params, origin }) => {
      const event = await services.rooms.getEvent(params.eventId);
      if (event === undefined || !(await serverMaySee(services, event.roomId, origin))) {
        throw MatrixError.notFound('Event not found');
      }
      // A server the room's ACL denies gets none of its events.
      if (!(await serverAllowedInRoom(services.ctx.db, event.roomId, origin))) {
        throw MatrixError.forbidden('Server is banned from this room by its server ACL');
      }
      return {
        origin: services.ctx.config.serverName,
        origin_server_ts: services.ctx.now(),
        // History visibility at the event (client-server-api "History visibility" → "Server
        // behaviour"): an event the asking server may not see goes out redacted, as /backfill
        // serves it.
        pdus: await pdusForServer(services, event.roomId, origin, [event]),
      };
    },
  });
}
