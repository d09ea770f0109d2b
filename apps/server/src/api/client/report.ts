// POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}
// POST /_matrix/client/v3/rooms/{roomId}/report
// POST /_matrix/client/v3/users/{userId}/report
// https://spec.matrix.org/v1.19/client-server-api/#reporting-content
// Since v1.18 an event report has only `reason` (optional; `score` was removed, and is ignored
// if a client still sends it); room and user reports require `reason`, which may be blank.
import type { Services } from '../../services/index.ts';
import { optionalString, parseRoomId, parseUserId, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerReport(app: ClientApp, services: Services): void {
  const { reports } = services;

  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/report/:eventId',
    auth: 'user',
    rateLimit: true,
    parseBody: (json) => ({ reason: optionalString(json, 'reason') }),
    handler: async ({ user, params, body }) => {
      await reports.reportEvent(
        user.userId,
        parseRoomId(params.roomId),
        params.eventId,
        body.reason,
      );
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/report',
    auth: 'user',
    rateLimit: true,
    parseBody: (json) => ({ reason: requiredString(json, 'reason') }),
    handler: async ({ user, params, body }) => {
      await reports.reportRoom(user.userId, parseRoomId(params.roomId), body.reason);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/users/:userId/report',
    auth: 'user',
    rateLimit: true,
    parseBody: (json) => ({ reason: requiredString(json, 'reason') }),
    handler: async ({ user, params, body }) => {
      await reports.reportUser(user.userId, parseUserId(params.userId, 'userId'), body.reason);
      return {};
    },
  });
}
