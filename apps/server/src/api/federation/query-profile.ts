// GET /_matrix/federation/v1/query/profile
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1queryprofile
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerQueryProfile(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/query/profile',
    auth: 'server',
    handler: ({ query }) => {
      const userId = query.get('user_id');
      if (userId === null) throw MatrixError.missingParam('user_id is required');
      return services.federationQueries.profile(userId, query.get('field') ?? undefined);
    },
  });
}
