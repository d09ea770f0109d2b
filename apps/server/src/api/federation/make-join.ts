// GET /_matrix/federation/v1/make_join/{roomId}/{userId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1make_joinroomiduserid
import { requireServerAllowed } from '../../services/federation/acl.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerMakeJoin(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/make_join/:roomId/:userId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      // Spec "Server Access Control Lists": make_join is a protected endpoint.
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      // Spec: without `ver` the joining server is assumed to support room version 1 only.
      const versions = query.getAll('ver');
      return services.federationMembership.makeJoin(
        origin,
        params.roomId,
        params.userId,
        versions.length === 0 ? ['1'] : versions,
      );
    },
  });
}
