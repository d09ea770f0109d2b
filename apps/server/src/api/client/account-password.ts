// POST /_matrix/client/v3/account/password
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3accountpassword
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { requirePassword } from './uia.ts';

export function registerAccountPassword(app: ClientApp, services: Services): void {
  const { accounts } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/account/password',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, body }) => {
      const newPassword = body['new_password'];
      if (typeof newPassword !== 'string' || newPassword === '') {
        throw MatrixError.badJson('new_password must be a non-empty string');
      }
      const logoutDevices = body['logout_devices'] ?? true;
      if (typeof logoutDevices !== 'boolean') {
        throw MatrixError.badJson('logout_devices must be a boolean');
      }
      const challenge = await requirePassword(body, user.userId, accounts);
      if (challenge !== undefined) return challenge;
      await accounts.changePassword(user.userId, user.deviceId, newPassword, logoutDevices);
      return {};
    },
  });
}
