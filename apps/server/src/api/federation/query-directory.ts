// GET /_matrix/federation/v1/query/directory
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1querydirectory
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerQueryDirectory(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/query/directory',
    auth: 'server',
    handler: ({ query }) => {
      const alias = query.get('room_alias');
      if (alias === null) throw MatrixError.missingParam('room_alias is required');
      return services.federationQueries.directory(alias);
    },
  });
}
