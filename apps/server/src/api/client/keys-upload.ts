// POST /_matrix/client/v3/keys/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysupload
import type { JsonObject } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import type { KeyUpload } from '../../services/e2e-keys/service.ts';
import type { Services } from '../../services/index.ts';
import { isObject } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

function parseUpload(json: Record<string, unknown>): KeyUpload {
  const out: { -readonly [K in keyof KeyUpload]: KeyUpload[K] } = {};
  for (const [field, key] of [
    ['device_keys', 'deviceKeys'],
    ['one_time_keys', 'oneTimeKeys'],
    ['fallback_keys', 'fallbackKeys'],
  ] as const) {
    const value = json[field];
    if (value === undefined || value === null) continue;
    if (!isObject(value)) throw MatrixError.badJson(`${field} must be an object`);
    out[key] = value as JsonObject;
  }
  return out;
}

/** Registers `POST /keys/upload`. */
export function registerKeysUpload(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/keys/upload',
    auth: 'user',
    parseBody: parseUpload,
    handler: async ({ user, body }) => ({
      one_time_key_counts: await services.e2eKeys.upload(user.userId, user.deviceId, body),
    }),
  });
}
