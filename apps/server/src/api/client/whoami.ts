// GET /_matrix/client/v3/account/whoami
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3accountwhoami
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerWhoami(app: ClientApp): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/account/whoami',
    auth: 'user',
    handler: ({ user }) => ({ user_id: user.userId, device_id: user.deviceId, is_guest: false }),
  });
}
