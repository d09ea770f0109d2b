// GET /_matrix/client/v3/account/3pid
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3account3pid
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * This server binds no third-party identifiers (e-mail, phone; `m.3pid_changes` is disabled in
 * /capabilities), so every account has none. Clients' settings screens ask for the list.
 */
export function registerAccount3pid(app: ClientApp): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/account/3pid',
    auth: 'user',
    handler: () => ({ threepids: [] }),
  });
}
