// PUT /_matrix/federation/v2/invite/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2inviteroomideventid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerInvite(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v2/invite/:roomId/:eventId',
    auth: 'server',
    handler: ({ params, body, origin }) =>
      services.federationMembership.invite(origin, params.roomId, params.eventId, body),
  });
}
