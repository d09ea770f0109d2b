// POST /_matrix/client/v3/account/deactivate
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3accountdeactivate
import { MatrixError } from '@weft/transport';

import { deactivateAccount } from '../../services/accounts/deactivate.ts';
import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { requirePassword } from './uia.ts';

export function registerAccountDeactivate(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/account/deactivate',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, body }) => {
      const erase = body['erase'];
      if (erase !== undefined && typeof erase !== 'boolean') {
        throw MatrixError.badJson('erase must be a boolean');
      }
      const idServer = body['id_server'];
      if (idServer !== undefined && typeof idServer !== 'string') {
        throw MatrixError.badJson('id_server must be a string');
      }
      const challenge = await requirePassword(body, user.userId, services.accounts);
      if (challenge !== undefined) return challenge;
      // `erase`: the user's non-event data goes too, and they are recorded as erased: users and
      // servers that join their rooms later are served their events redacted
      // (services/rooms/erased-senders.ts).
      await deactivateAccount(services, services.ctx.log, user.userId, { erase: erase === true });
      // No third-party identifiers are ever bound here, so there is nothing to unbind.
      return { id_server_unbind_result: 'no-support' };
    },
  });
}
