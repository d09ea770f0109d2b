// POST /_matrix/client/v3/user/{userId}/filter
// GET /_matrix/client/v3/user/{userId}/filter/{filterId}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3useruseridfilter
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3useruseridfilterfilterid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { requireOwnUser } from './own-user.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerFilters(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/user/:userId/filter',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, user, body }) => {
      requireOwnUser(params.userId, user.userId, 'filters');
      return { filter_id: await services.filters.create(user.userId, body) };
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/user/:userId/filter/:filterId',
    auth: 'user',
    handler: async ({ params, user }) => {
      requireOwnUser(params.userId, user.userId, 'filters');
      const filter = await services.filters.getFilter(user.userId, params.filterId);
      if (filter === undefined) throw MatrixError.notFound('Unknown filter');
      return filter;
    },
  });
}
