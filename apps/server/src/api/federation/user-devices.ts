// GET /_matrix/federation/v1/user/devices/{userId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1userdevicesuserid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerUserDevices(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/user/devices/:userId',
    auth: 'server',
    handler: ({ params }) => services.federationQueries.devices(params.userId),
  });
}
