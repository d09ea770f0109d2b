// GET/PUT /_matrix/client/v3/user/{userId}/account_data/{type}
// GET/PUT /_matrix/client/v3/user/{userId}/rooms/{roomId}/account_data/{type}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3useruseridaccount_datatype
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3useruseridroomsroomidaccount_datatype
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { requireOwnUser } from './own-user.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec: "405 — This type of account data is controlled by the server; it cannot be modified by
 * clients. Errcode: M_BAD_JSON." The server owns `m.fully_read` (set through read markers) and
 * `m.push_rules` (set through the push rules API).
 */
const SERVER_CONTROLLED = new Set(['m.fully_read', 'm.push_rules']);

// Bodies that may hold floats (here and in tags.ts): account data and room tags are not events,
// so canonical JSON's integer-only rule does not bind them, and clients write floats there (a
// tag's `order` is "a number between 0 and 1",
// https://spec.matrix.org/v1.19/client-server-api/#room-tagging). Their endpoints declare
// `floats: true`: floats are kept, but an integer beyond ±(2^53 − 1) is still refused with
// M_BAD_JSON by the parser (no JSON number can carry it to a client exactly).

function checkWritable(type: string): void {
  if (SERVER_CONTROLLED.has(type)) {
    throw new MatrixError(405, 'M_BAD_JSON', `${type} is controlled by the server`);
  }
}

function notFound(): never {
  throw MatrixError.notFound('No account data of this type');
}

export function registerAccountData(app: ClientApp, services: Services): void {
  const { accountData } = services;

  clientEndpoint(app, {
    method: 'PUT',
    path: '/user/:userId/account_data/:type',
    auth: 'user',
    rateLimit: true,
    floats: true,
    handler: async ({ params, user, body }) => {
      requireOwnUser(params.userId, user.userId, 'account data');
      checkWritable(params.type);
      await accountData.set(user.userId, undefined, params.type, body);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/user/:userId/account_data/:type',
    auth: 'user',
    handler: async ({ params, user }) => {
      requireOwnUser(params.userId, user.userId, 'account data');
      return (await accountData.get(user.userId, undefined, params.type)) ?? notFound();
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/user/:userId/rooms/:roomId/account_data/:type',
    auth: 'user',
    rateLimit: true,
    floats: true,
    handler: async ({ params, user, body }) => {
      requireOwnUser(params.userId, user.userId, 'account data');
      const roomId = parseRoomId(params.roomId);
      checkWritable(params.type);
      await accountData.set(user.userId, roomId, params.type, body);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/user/:userId/rooms/:roomId/account_data/:type',
    auth: 'user',
    handler: async ({ params, user }) => {
      requireOwnUser(params.userId, user.userId, 'account data');
      const roomId = parseRoomId(params.roomId);
      return (await accountData.get(user.userId, roomId, params.type)) ?? notFound();
    },
  });
}
