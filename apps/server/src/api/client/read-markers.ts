// POST /_matrix/client/v3/rooms/{roomId}/read_markers
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidread_markers
import type { Services } from '../../services/index.ts';
import { optionalString, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec "Read markers": `m.fully_read` is room account data `{ event_id }`; `m.read` and
 * `m.read.private` are receipts, as if sent through `/receipt`.
 */
export async function setReadMarkers(
  services: Services,
  userId: string,
  roomId: string,
  markers: { fullyRead?: string; read?: string; readPrivate?: string },
): Promise<void> {
  for (const eventId of [markers.fullyRead, markers.read, markers.readPrivate]) {
    if (eventId !== undefined) await services.receipts.checkTarget(userId, roomId, eventId);
  }
  if (markers.fullyRead !== undefined) {
    await services.receipts.setFullyRead(userId, roomId, markers.fullyRead);
  }
  if (markers.read !== undefined) {
    await services.receipts.setReceipt(userId, roomId, 'm.read', markers.read, undefined);
  }
  if (markers.readPrivate !== undefined) {
    await services.receipts.setReceipt(
      userId,
      roomId,
      'm.read.private',
      markers.readPrivate,
      undefined,
    );
  }
}

/** Registers `POST /rooms/{roomId}/read_markers`. */
export function registerReadMarkers(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/read_markers',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, user, body }) => {
      const roomId = parseRoomId(params.roomId);
      const fullyRead = optionalString(body, 'm.fully_read');
      const read = optionalString(body, 'm.read');
      const readPrivate = optionalString(body, 'm.read.private');
      await setReadMarkers(services, user.userId, roomId, {
        ...(fullyRead !== undefined ? { fullyRead } : {}),
        ...(read !== undefined ? { read } : {}),
        ...(readPrivate !== undefined ? { readPrivate } : {}),
      });
      return {};
    },
  });
}
