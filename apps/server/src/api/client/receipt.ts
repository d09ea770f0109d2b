// POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidreceiptreceipttypeeventid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { setReadMarkers } from './read-markers.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec: `thread_id` must be a non-empty string — an event ID or `main` — and is refused for
 * `m.fully_read` (400 `M_INVALID_PARAM`).
 */
function parseThreadId(body: Record<string, unknown>, receiptType: string): string | undefined {
  const threadId = body['thread_id'];
  if (threadId === undefined) return undefined;
  if (typeof threadId !== 'string' || threadId === '') {
    throw MatrixError.invalidParam('thread_id field must be a non-empty string');
  }
  if (threadId !== 'main' && !threadId.startsWith('$')) {
    throw MatrixError.invalidParam('thread_id must be an event ID or "main"');
  }
  if (receiptType === 'm.fully_read') {
    throw MatrixError.invalidParam('thread_id is not allowed for m.fully_read');
  }
  return threadId;
}

/** Registers `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`. */
export function registerReceipt(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/receipt/:receiptType/:eventId',
    auth: 'user',
    // Older clients send no body (r0 defined none); `thread_id` is optional.
    body: 'optional-json',
    rateLimit: true,
    handler: async ({ params, user, body }) => {
      const roomId = parseRoomId(params.roomId);
      const { receiptType, eventId } = params;
      if (!['m.read', 'm.read.private', 'm.fully_read'].includes(receiptType)) {
        throw MatrixError.invalidParam(`Unknown receipt type ${receiptType}`);
      }
      const threadId = parseThreadId(body, receiptType);
      // Spec: "this endpoint effectively calls /read_markers internally" for m.fully_read.
      if (receiptType === 'm.fully_read') {
        await setReadMarkers(services, user.userId, roomId, { fullyRead: eventId });
        return {};
      }
      await services.receipts.checkTarget(user.userId, roomId, eventId, threadId);
      await services.receipts.setReceipt(
        user.userId,
        roomId,
        receiptType as 'm.read' | 'm.read.private',
        eventId,
        threadId,
      );
      return {};
    },
  });
}
