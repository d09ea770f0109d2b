// POST /_matrix/client/v3/user_directory/search
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3user_directorysearch
// Who can be found is services/user-directory: users sharing a room with the searcher and users
// in public (join rule) or world-readable rooms.
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Spec: "Defaults to 10." */
const DEFAULT_LIMIT = 10;
/** The most results one search returns, whatever `limit` asks. */
const MAX_LIMIT = 1000;

function parseSearch(json: Record<string, unknown>): { term: string; limit: number } {
  const term = requiredString(json, 'search_term');
  const limit = json['limit'] ?? DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 0) {
    throw MatrixError.badJson('limit must be a non-negative integer');
  }
  return { term, limit: Math.min(limit, MAX_LIMIT) };
}

export function registerUserDirectory(app: ClientApp, services: Services): void {
  const { userDirectory } = services;

  clientEndpoint(app, {
    method: 'POST',
    path: '/user_directory/search',
    auth: 'user',
    rateLimit: true,
    parseBody: parseSearch,
    handler: ({ user, body }) => userDirectory.search(user.userId, body.term, body.limit),
  });
}
