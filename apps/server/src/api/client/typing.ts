// PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidtypinguserid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { DEFAULT_TYPING_TIMEOUT_MS } from '../../services/typing/service.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

interface TypingBody {
  readonly typing: boolean;
  readonly timeout: number;
}

function parseTypingBody(json: Record<string, unknown>): TypingBody {
  const typing = json['typing'];
  if (typeof typing !== 'boolean') throw MatrixError.badJson('typing must be a boolean');
  const timeout = json['timeout'];
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 0) {
      throw MatrixError.badJson('timeout must be a non-negative integer');
    }
    return { typing, timeout };
  }
  return { typing, timeout: DEFAULT_TYPING_TIMEOUT_MS };
}

/** Registers `PUT /rooms/{roomId}/typing/{userId}`. */
export function registerTyping(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'PUT',
    path: '/rooms/:roomId/typing/:userId',
    auth: 'user',
    rateLimit: true,
    parseBody: parseTypingBody,
    handler: async ({ params, user, body }) => {
      const roomId = parseRoomId(params.roomId);
      if (params.userId !== user.userId) {
        throw MatrixError.forbidden('You may only set your own typing state');
      }
      const membership = await services.rooms.membership(roomId, user.userId);
      if (membership?.membership !== 'join') {
        throw MatrixError.forbidden('You are not joined to this room');
      }
      services.typing.setTyping(roomId, user.userId, body.typing, body.timeout);
      return {};
    },
  });
}
