// GET /_matrix/client/versions
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientversions
import type { ClientApp } from './routes.ts';

/** The spec versions this server implements (the CS API it serves is v1.19's). */
export const SUPPORTED_VERSIONS = [
  'r0.6.1',
  'v1.1',
  'v1.2',
  'v1.3',
  'v1.4',
  'v1.5',
  'v1.6',
  'v1.7',
  'v1.8',
  'v1.9',
  'v1.10',
  'v1.11',
  'v1.12',
  'v1.13',
  'v1.14',
  'v1.15',
  'v1.16',
  'v1.17',
  'v1.18',
  'v1.19',
] as const;

export function registerVersions(app: ClientApp): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/client/versions',
    auth: 'none',
    handler: () => ({ versions: [...SUPPORTED_VERSIONS], unstable_features: {} }),
  });
}
