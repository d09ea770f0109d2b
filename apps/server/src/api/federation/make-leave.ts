// GET /_matrix/federation/v1/make_leave/{roomId}/{userId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1make_leaveroomiduserid
import { requireServerAllowed } from '../../services/federation/acl.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerMakeLeave(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/make_leave/:roomId/:userId',
    auth: 'server',
    handler: async ({ params, origin }) => {
      // Spec "Server Access Control Lists": make_leave is a protected endpoint.
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      return services.federationMembership.makeLeave(origin, params.roomId, params.userId);
    },
  });
}
