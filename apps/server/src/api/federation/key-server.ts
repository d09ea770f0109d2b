// GET /_matrix/key/v2/server
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixkeyv2server

import { ownServerKeys } from '../../services/federation/keys/own-keys.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerKeyServer(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/key/v2/server',
    auth: 'none',
    handler: () => ownServerKeys(services.ctx) as unknown as Record<string, unknown>,
  });
}
