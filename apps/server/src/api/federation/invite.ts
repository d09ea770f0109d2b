// PUT /_matrix/federation/v2/invite/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2inviteroomideventid
import { requireServerAllowed } from '../../services/federation/acl.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerInvite(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v2/invite/:roomId/:eventId',
    auth: 'server',
    handler: async ({ params, body, origin }) => {
      // Spec "Server Access Control Lists": invite is protected (the ACL is known only when
      // this server is in the room already; otherwise there is no state to check).
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      return services.federationMembership.invite(origin, params.roomId, params.eventId, body);
    },
  });
}
