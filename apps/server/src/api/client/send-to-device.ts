// PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId}
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3sendtodeviceeventtypetxnid
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { isObject, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

type Messages = Map<string, Map<string, Record<string, unknown>>>;

/** `messages`: user ID → device ID (or `*`) → content object. */
function parseMessages(json: Record<string, unknown>): Messages {
  const messages = json['messages'];
  if (!isObject(messages)) throw MatrixError.badJson('messages must be an object');
  const out: Messages = new Map();
  for (const [userId, byDevice] of Object.entries(messages)) {
    parseUserId(userId, 'messages key');
    if (!isObject(byDevice)) throw MatrixError.badJson(`messages.${userId} must be an object`);
    const devices = new Map<string, Record<string, unknown>>();
    for (const [deviceId, content] of Object.entries(byDevice)) {
      if (!isObject(content)) {
        throw MatrixError.badJson(`messages.${userId}.${deviceId} must be an object`);
      }
      devices.set(deviceId, content);
    }
    out.set(userId, devices);
  }
  return out;
}

/** Registers `PUT /sendToDevice/{eventType}/{txnId}`. */
export function registerSendToDevice(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'PUT',
    path: '/sendToDevice/:eventType/:txnId',
    auth: 'user',
    rateLimit: true,
    parseBody: parseMessages,
    handler: async ({ params, user, body }) => {
      await services.toDevice.send(user, params.eventType, params.txnId, body);
      return {};
    },
  });
}
