// GET /_matrix/client/v1/rooms/{roomId}/hierarchy
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidhierarchy
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { spaceHierarchy } from '../../services/spaces/hierarchy.ts';
import { sharedRemoteFetcher } from '../../services/spaces/remote.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Rooms per page by default and at most (Synapse's MAX_ROOMS), and the deepest walk allowed. */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 50;
const MAX_DEPTH = 50;

function parseBoolean(raw: string | null, name: string): boolean {
  if (raw === null || raw === 'false') return false;
  if (raw === 'true') return true;
  throw MatrixError.invalidParam(`${name} must be true or false`);
}

function parseInteger(raw: string | null, name: string, min: number): number | undefined {
  if (raw === null) return undefined;
  const value = Number(raw);
  if (raw === '' || !Number.isSafeInteger(value) || value < min) {
    throw MatrixError.invalidParam(`${name} must be an integer of at least ${min}`);
  }
  return value;
}

export function registerHierarchy(app: ClientApp, services: Services): void {
  const remote = sharedRemoteFetcher(services.federation, services.ctx.config.serverName, () =>
    services.ctx.now(),
  );
  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/hierarchy',
    auth: 'user',
    versions: ['v1'],
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const suggestedOnly = parseBoolean(query.get('suggested_only'), 'suggested_only');
      const limit = Math.min(
        parseInteger(query.get('limit'), 'limit', 1) ?? DEFAULT_LIMIT,
        MAX_LIMIT,
      );
      const depth = parseInteger(query.get('max_depth'), 'max_depth', 0);
      const from = query.get('from');
      return spaceHierarchy(services.rooms, {
        roomId,
        userId: user.userId,
        suggestedOnly,
        maxDepth: Math.min(depth ?? MAX_DEPTH, MAX_DEPTH),
        limit,
        from: from === null || from === '' ? undefined : from,
        remote,
      });
    },
  });
}
