// GET /_matrix/federation/v1/make_leave/{roomId}/{userId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1make_leaveroomiduserid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerMakeLeave(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/make_leave/:roomId/:userId',
    auth: 'server',
    handler: ({ params, origin }) =>
      services.federationMembership.makeLeave(origin, params.roomId, params.userId),
  });
}
