// POST /_matrix/client/v3/logout, POST /_matrix/client/v3/logout/all
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3logout
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3logoutall
import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerLogout(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/logout',
    auth: 'user',
    // No request body is defined; clients often send none.
    body: 'none',
    handler: async ({ user }) => {
      await services.accounts.logout(user.userId, user.deviceId);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/logout/all',
    auth: 'user',
    // No request body is defined; clients often send none.
    body: 'none',
    handler: async ({ user }) => {
      await services.accounts.logoutAll(user.userId);
      return {};
    },
  });
}
