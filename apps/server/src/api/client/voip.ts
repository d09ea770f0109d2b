// GET /_matrix/client/v3/voip/turnServer
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3voipturnserver
// voip.yaml requires `username`, `password`, `uris` and `ttl` in a 200, so with no `turn:` in
// weft.yaml an empty object would break the schema: the answer is then 404 `M_NOT_FOUND`
// ("No TURN server configured"). matrix-js-sdk logs that as a non-fatal error, asks again
// later and places calls without TURN. (Synapse answers `{}` here, outside the schema.)
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { turnCredentials } from '../../services/voip/service.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerVoip(app: ClientApp, services: Services): void {
  const { ctx } = services;

  clientEndpoint(app, {
    method: 'GET',
    path: '/voip/turnServer',
    auth: 'user',
    rateLimit: true,
    handler: ({ user }) => {
      const turn = ctx.config.turn;
      if (turn === undefined) throw MatrixError.notFound('No TURN server configured');
      return turnCredentials(turn, user.userId, ctx.now());
    },
  });
}
