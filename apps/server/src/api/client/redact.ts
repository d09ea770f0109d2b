// PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidredacteventidtxnid
import type { Services } from '../../services/index.ts';
import { redact } from '../../services/rooms/redaction.ts';
import { optionalString, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRedact(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'PUT',
    path: '/rooms/:roomId/redact/:eventId/:txnId',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => ({
      event_id: await redact(services.rooms, {
        roomId: parseRoomId(params.roomId),
        eventId: params.eventId,
        sender: user.userId,
        deviceId: user.deviceId,
        txnId: params.txnId,
        reason: optionalString(body, 'reason'),
      }),
    }),
  });
}
