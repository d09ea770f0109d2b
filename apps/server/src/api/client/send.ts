// PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerSend(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'PUT',
    path: '/rooms/:roomId/send/:eventType/:txnId',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const roomId = parseRoomId(params.roomId);
      if (params.eventType === 'm.room.redaction') {
        throw MatrixError.badJson('Use the /redact endpoint to redact events');
      }
      const eventId = await services.rooms.send(
        { roomId, type: params.eventType, sender: user.userId, content: body },
        { senderDevice: user.deviceId, txnId: params.txnId },
      );
      return { event_id: eventId };
    },
  });
}
