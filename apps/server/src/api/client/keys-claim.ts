// POST /_matrix/client/v3/keys/claim
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysclaim
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { isObject, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** `one_time_keys`: user ID → device ID → algorithm. */
function parseClaim(json: Record<string, unknown>): Map<string, Map<string, string>> {
  const oneTimeKeys = json['one_time_keys'];
  if (!isObject(oneTimeKeys)) throw MatrixError.badJson('one_time_keys must be an object');
  const timeout = json['timeout'];
  if (timeout !== undefined && !Number.isInteger(timeout)) {
    throw MatrixError.badJson('timeout must be an integer');
  }
  const out = new Map<string, Map<string, string>>();
  for (const [userId, devices] of Object.entries(oneTimeKeys)) {
    parseUserId(userId, 'one_time_keys key');
    if (!isObject(devices)) throw MatrixError.badJson(`one_time_keys.${userId} must be an object`);
    const byDevice = new Map<string, string>();
    for (const [deviceId, algorithm] of Object.entries(devices)) {
      if (typeof algorithm !== 'string' || algorithm === '') {
        throw MatrixError.badJson(`one_time_keys.${userId}.${deviceId} must be an algorithm name`);
      }
      byDevice.set(deviceId, algorithm);
    }
    out.set(userId, byDevice);
  }
  return out;
}

/** Registers `POST /keys/claim`. */
export function registerKeysClaim(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/keys/claim',
    auth: 'user',
    parseBody: parseClaim,
    handler: async ({ body }) => {
      const queries = services.federationQueries;
      const remote = new Map([...body].filter(([userId]) => queries.isRemote(userId)));
      const local = new Map([...body].filter(([userId]) => !queries.isRemote(userId)));
      const [mine, theirs] = await Promise.all([
        services.e2eKeys.claim(local),
        queries.remoteKeysClaim(remote),
      ]);
      return {
        one_time_keys: { ...mine.oneTimeKeys, ...theirs.oneTimeKeys },
        failures: { ...mine.failures, ...theirs.failures },
      };
    },
  });
}
