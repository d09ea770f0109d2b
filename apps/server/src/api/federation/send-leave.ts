// PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2send_leaveroomideventid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerSendLeave(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v2/send_leave/:roomId/:eventId',
    auth: 'server',
    handler: async ({ params, body, origin }) => {
      await services.federationMembership.sendLeave(origin, params.roomId, params.eventId, body);
      return {};
    },
  });
}
