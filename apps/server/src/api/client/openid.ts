// POST /_matrix/client/v3/user/{userId}/openid/request_token
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3useruseridopenidrequest_token
// Only for the caller itself (403 M_FORBIDDEN for another user ID). The body is `{}` (its
// content is ignored).

import type { Services } from '../../services/index.ts';
import { requireOwnUserId } from './own-user.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerOpenId(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/user/:userId/openid/request_token',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params }) => {
      requireOwnUserId(
        params.userId,
        user.userId,
        'You may only request OpenID tokens for yourself',
      );
      return services.openId.requestToken(user.userId);
    },
  });
}
