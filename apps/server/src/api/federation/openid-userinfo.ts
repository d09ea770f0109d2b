// GET /_matrix/federation/v1/openid/userinfo?access_token=…
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1openiduserinfo
// Asked by third parties holding a user's OpenID token, not by homeservers: no X-Matrix
// signature; the token in the query string is the authentication (401 M_UNKNOWN_TOKEN when it
// is unknown or expired). The transport hides `access_token` from `query` (it is the client
// API's legacy token parameter), so it is read from the request itself.
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerOpenIdUserInfo(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/openid/userinfo',
    auth: 'none',
    handler: ({ context }) => {
      const token = context.req.query('access_token');
      // Without a token: the same 401 as for an unknown one (the only error openid.yaml lists).
      return services.openId.userInfo(token ?? '');
    },
  });
}
