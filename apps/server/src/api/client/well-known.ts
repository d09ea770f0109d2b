// GET /.well-known/matrix/client
// https://spec.matrix.org/v1.19/client-server-api/#getwell-knownmatrixclient
import type { ServerConfig } from '../../config.ts';
import type { ClientApp } from './routes.ts';

export function registerWellKnown(app: ClientApp, config: ServerConfig): void {
  app.endpoint({
    method: 'GET',
    path: '/.well-known/matrix/client',
    auth: 'none',
    handler: () => ({ 'm.homeserver': { base_url: config.publicBaseUrl } }),
  });
}
