// POST /_matrix/client/v3/register, GET /_matrix/client/v3/register/available
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3register
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3registeravailable
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { uiaAuth, uiaChallenge } from './uia.ts';

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw MatrixError.badJson(`${key} must be a string`);
  return value;
}

export function registerRegister(app: ClientApp, services: Services): void {
  const { accounts } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/register',
    auth: 'none',
    rateLimit: true,
    handler: async ({ body, query }) => {
      if (!services.ctx.config.registration.enabled) {
        throw MatrixError.forbidden('Registration is disabled');
      }
      if ((query.get('kind') ?? 'user') === 'guest') {
        throw new MatrixError(403, 'M_GUEST_ACCESS_FORBIDDEN', 'Guest access is disabled');
      }
      const username = optionalString(body, 'username');
      const password = optionalString(body, 'password');
      // Check the username before the UIA round trip, as Synapse does, so clients fail fast.
      if (username !== undefined) {
        const userId = accounts.userIdFor(username);
        if (await accounts.userExists(userId)) {
          throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
        }
      }
      const auth = uiaAuth(body);
      if (auth === undefined || auth['type'] !== 'm.login.dummy')
        return uiaChallenge(['m.login.dummy']);
      // Registration is password-based (the dummy stage proves nothing): an account without a
      // password could never complete the `m.login.password` stage of the UIA endpoints
      // (deactivation, password change, device deletion), so it is refused, as Synapse does.
      if (password === undefined) throw MatrixError.missingParam('Missing password');
      const inhibitLogin = body['inhibit_login'] === true;
      const deviceId = optionalString(body, 'device_id');
      const displayName = optionalString(body, 'initial_device_display_name');
      const result = await accounts.register({
        ...(username !== undefined ? { localpart: username } : {}),
        password,
        ...(deviceId !== undefined ? { deviceId } : {}),
        ...(displayName !== undefined ? { deviceDisplayName: displayName } : {}),
        inhibitLogin,
      });
      return {
        user_id: result.userId,
        ...(result.accessToken !== undefined
          ? { access_token: result.accessToken, device_id: result.deviceId }
          : {}),
      };
    },
  });

  clientEndpoint(app, {
    method: 'GET',
    path: '/register/available',
    auth: 'none',
    rateLimit: true,
    handler: async ({ query }) => {
      const username = query.get('username');
      if (username === null) throw MatrixError.missingParam('username is required');
      if (await accounts.userExists(accounts.userIdFor(username))) {
        throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
      }
      return { available: true };
    },
  });
}
