// POST /_matrix/client/v3/keys/query
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysquery
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { isObject, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** `device_keys`: user ID → list of device IDs (empty = all devices). */
function parseQuery(json: Record<string, unknown>): Map<string, string[]> {
  const deviceKeys = json['device_keys'];
  if (!isObject(deviceKeys)) throw MatrixError.badJson('device_keys must be an object');
  const timeout = json['timeout'];
  if (timeout !== undefined && !Number.isInteger(timeout)) {
    throw MatrixError.badJson('timeout must be an integer');
  }
  const out = new Map<string, string[]>();
  for (const [userId, devices] of Object.entries(deviceKeys)) {
    parseUserId(userId, 'device_keys key');
    if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) {
      throw MatrixError.badJson(`device_keys.${userId} must be a list of device IDs`);
    }
    out.set(userId, devices as string[]);
  }
  return out;
}

/** Registers `POST /keys/query`. */
export function registerKeysQuery(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/keys/query',
    auth: 'user',
    parseBody: parseQuery,
    handler: async ({ body, user }) => {
      // Local users from storage; other servers' users from their servers, in parallel.
      const queries = services.federationQueries;
      const remote = new Map([...body].filter(([userId]) => queries.isRemote(userId)));
      const local = new Map([...body].filter(([userId]) => !queries.isRemote(userId)));
      const [mine, theirs] = await Promise.all([
        services.e2eKeys.query(local, user.userId),
        // Without federation every remote user fails and no cross-signing keys come back.
        queries.remoteKeysQuery(remote) as Promise<{
          deviceKeys: Record<string, unknown>;
          masterKeys?: Record<string, unknown>;
          selfSigningKeys?: Record<string, unknown>;
          failures: Record<string, object>;
        }>,
      ]);
      return {
        device_keys: { ...mine.deviceKeys, ...theirs.deviceKeys },
        failures: { ...mine.failures, ...theirs.failures },
        // Spec "Cross-signing": the user-signing key only for the user themself.
        master_keys: { ...mine.masterKeys, ...theirs.masterKeys },
        self_signing_keys: { ...mine.selfSigningKeys, ...theirs.selfSigningKeys },
        user_signing_keys: mine.userSigningKeys,
      };
    },
  });
}
