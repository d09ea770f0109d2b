// POST /_matrix/client/v3/keys/signatures/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keyssignaturesupload
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { isObject, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** The body: user ID → key ID → the signed key object. */
function parseSignatures(json: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [userId, byKey] of Object.entries(json)) {
    parseUserId(userId, 'user ID');
    if (!isObject(byKey)) throw MatrixError.badJson(`${userId} must map key IDs to objects`);
    out[userId] = byKey;
  }
  return out;
}

/** Registers `POST /keys/signatures/upload`: invalid signatures are listed in `failures`. */
export function registerKeysSignatures(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/keys/signatures/upload',
    versions: ['v3', 'unstable'],
    auth: 'user',
    parseBody: parseSignatures,
    handler: async ({ user, body }) => {
      const failures = await services.e2eKeys.crossSigning.uploadSignatures(user.userId, body);
      return Object.keys(failures).length > 0 ? { failures } : {};
    },
  });
}
