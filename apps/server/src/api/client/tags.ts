// GET    /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags
// PUT    /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// DELETE /_matrix/client/v3/user/{userId}/rooms/{roomId}/tags/{tag}
// https://spec.matrix.org/v1.19/client-server-api/#room-tagging
// Tags live in the room's `m.tag` account data, so `/sync` delivers them as account data does.
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { requireOwnUser } from './own-user.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Spec: "The name of a tag MUST NOT exceed 255 bytes." */
const MAX_TAG_BYTES = 255;

function checkTag(tag: string): string {
  if (tag === '' || Buffer.byteLength(tag, 'utf8') > MAX_TAG_BYTES) {
    throw MatrixError.invalidParam(`A tag name must be 1 to ${MAX_TAG_BYTES} bytes`);
  }
  return tag;
}

export function registerTags(app: ClientApp, services: Services): void {
  const { accountData } = services;

  clientEndpoint(app, {
    method: 'GET',
    path: '/user/:userId/rooms/:roomId/tags',
    auth: 'user',
    handler: async ({ params, user }) => {
      requireOwnUser(params.userId, user.userId, 'tags');
      return { tags: await accountData.roomTags(user.userId, parseRoomId(params.roomId)) };
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/user/:userId/rooms/:roomId/tags/:tag',
    auth: 'user',
    rateLimit: true,
    // `order` is a float (0.5); big integers are still refused: see account-data.ts.
    floats: true,
    handler: async ({ params, user, body }) => {
      requireOwnUser(params.userId, user.userId, 'tags');
      const roomId = parseRoomId(params.roomId);
      const order = body['order'];
      if (order !== undefined && typeof order !== 'number') {
        throw MatrixError.badJson('order must be a number');
      }
      await accountData.setRoomTag(user.userId, roomId, checkTag(params.tag), body);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/user/:userId/rooms/:roomId/tags/:tag',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, user }) => {
      requireOwnUser(params.userId, user.userId, 'tags');
      const roomId = parseRoomId(params.roomId);
      await accountData.setRoomTag(user.userId, roomId, checkTag(params.tag), undefined);
      return {};
    },
  });
}
