// GET /_matrix/client/v3/keys/changes
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3keyschanges
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { parseSyncToken } from '../../services/sync/token.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

function position(raw: string | null, name: string): number {
  if (raw === null || raw === '') throw MatrixError.missingParam(`${name} is required`);
  const token = parseSyncToken(raw);
  if (token === undefined) throw MatrixError.invalidParam(`${name} is not a sync token`);
  return token.position;
}

/** Registers `GET /keys/changes`. */
export function registerKeysChanges(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/keys/changes',
    auth: 'user',
    handler: async ({ user, query }) => {
      const from = position(query.get('from'), 'from');
      const to = position(query.get('to'), 'to');
      const { changed, left } = await services.deviceLists.changesBetween(user.userId, from, to);
      return { changed, left };
    },
  });
}
