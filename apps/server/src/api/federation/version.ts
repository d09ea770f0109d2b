// GET /_matrix/federation/v1/version
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1version
import type { FederationApp } from './routes.ts';

export function registerVersion(app: FederationApp): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/version',
    auth: 'none',
    handler: () => ({ server: { name: 'Weft', version: '0.0.0' } }),
  });
}
