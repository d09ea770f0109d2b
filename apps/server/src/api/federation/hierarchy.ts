// GET /_matrix/federation/v1/hierarchy/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1hierarchyroomid
//
// A space and its direct children for another server, unpaginated (services/spaces/
// hierarchy.ts `federationHierarchy`); the asking server filters for its user. A room with a
// server ACL that denies the asker is refused as any room-scoped request is.
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import type { Services } from '../../services/index.ts';
import { federationHierarchy } from '../../services/spaces/hierarchy.ts';
import type { FederationApp } from './routes.ts';

export function registerHierarchy(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/hierarchy/:roomId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      const raw = query.get('suggested_only');
      if (raw !== null && raw !== 'true' && raw !== 'false') {
        throw MatrixError.invalidParam('suggested_only must be true or false');
      }
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      return federationHierarchy(services.rooms, params.roomId, origin, raw === 'true');
    },
  });
}
