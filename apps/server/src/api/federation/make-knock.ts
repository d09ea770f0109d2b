// GET /_matrix/federation/v1/make_knock/{roomId}/{userId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1make_knockroomiduserid
import { requireServerAllowed } from '../../services/federation/acl.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerMakeKnock(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/make_knock/:roomId/:userId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      // Spec "Server Access Control Lists": make_knock is a protected endpoint.
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      // Spec: `ver` is required (knocking needs room version 7 or later).
      return services.federationMembership.makeKnock(
        origin,
        params.roomId,
        params.userId,
        query.getAll('ver'),
      );
    },
  });
}
