// GET /_matrix/client/v3/thirdparty/protocols
// GET /_matrix/client/v3/thirdparty/protocol/{protocol}
// GET /_matrix/client/v3/thirdparty/location[/{protocol}]
// GET /_matrix/client/v3/thirdparty/user[/{protocol}]
// https://spec.matrix.org/v1.19/client-server-api/#third-party-networks
// Third-party protocols come from application services (bridges), and this server has none: the
// protocol list is empty (`{}`), and a named protocol is unknown — 404 `M_NOT_FOUND`, the
// answer third_party_lookup.yaml documents for an unknown protocol, for no portal rooms and for
// no users (its 200 means "at least one portal room was found"). The reverse lookups by alias
// and by user ID answer 200 with an empty list: every third-party location or user found, none.
import { jsonResponse, MatrixError } from '@weft/transport';

import { parseRoomAlias, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

function unknownProtocol(): MatrixError {
  return MatrixError.notFound('Unknown third-party protocol');
}

/** A required query parameter; 400 `M_MISSING_PARAM` without it. */
function requiredQuery(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null) throw MatrixError.missingParam(`${name} is required`);
  return value;
}

export function registerThirdParty(app: ClientApp): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/thirdparty/protocols',
    auth: 'user',
    handler: () => ({}),
  });
  for (const path of [
    '/thirdparty/protocol/:protocol',
    '/thirdparty/location/:protocol',
    '/thirdparty/user/:protocol',
  ] as const) {
    clientEndpoint(app, {
      method: 'GET',
      path,
      auth: 'user',
      handler: () => {
        throw unknownProtocol();
      },
    });
  }
  clientEndpoint(app, {
    method: 'GET',
    path: '/thirdparty/location',
    auth: 'user',
    handler: ({ query }) => {
      parseRoomAlias(requiredQuery(query, 'alias'));
      return jsonResponse([]);
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/thirdparty/user',
    auth: 'user',
    handler: ({ query }) => {
      parseUserId(requiredQuery(query, 'userid'), 'userid');
      return jsonResponse([]);
    },
  });
}
