// PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv1send_knockroomideventid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerSendKnock(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v1/send_knock/:roomId/:eventId',
    auth: 'server',
    handler: ({ params, body, origin }) =>
      services.federationMembership.sendKnock(origin, params.roomId, params.eventId, body),
  });
}
