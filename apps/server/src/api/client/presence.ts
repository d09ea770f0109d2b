// GET/PUT /_matrix/client/v3/presence/{userId}/status
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3presenceuseridstatus
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3presenceuseridstatus
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { PRESENCE_STATES, type PresenceState } from '../../services/presence/service.ts';
import { requireOwnUser } from './own-user.ts';
import { optionalString, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

function isPresenceState(value: unknown): value is PresenceState {
  return typeof value === 'string' && (PRESENCE_STATES as readonly string[]).includes(value);
}

export function registerPresence(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'PUT',
    path: '/presence/:userId/status',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, user, body }) => {
      requireOwnUser(params.userId, user.userId, 'the presence');
      const presence = body['presence'];
      if (!isPresenceState(presence)) {
        throw MatrixError.badJson('presence must be online, offline or unavailable');
      }
      await services.presence.set(user.userId, presence, optionalString(body, 'status_msg'));
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/presence/:userId/status',
    auth: 'user',
    handler: async ({ params, user }) => {
      const userId = parseUserId(params.userId);
      // 404 for an unknown user first, then 403 unless the caller shares a room with them: the
      // spec's OpenAPI lists 403 for presence the caller may not see (Synapse answers 404).
      const content = await services.presence.get(userId);
      if (!(await services.presence.visibleTo(user.userId, userId))) {
        throw MatrixError.forbidden("You are not allowed to see this user's presence status");
      }
      return { ...content };
    },
  });
}
