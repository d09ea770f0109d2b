// POST /_matrix/client/v3/keys/device_signing/upload
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3keysdevice_signingupload
import type { JsonObject } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import type { SigningKeyUpload } from '../../services/e2e-keys/cross-signing.ts';
import type { Services } from '../../services/index.ts';
import { isObject } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { requirePassword } from './uia.ts';

const FIELDS = [
  ['master_key', 'master'],
  ['self_signing_key', 'self_signing'],
  ['user_signing_key', 'user_signing'],
] as const;

function parseKeys(body: Record<string, unknown>): SigningKeyUpload {
  const out: { -readonly [K in keyof SigningKeyUpload]: SigningKeyUpload[K] } = {};
  for (const [field, keyType] of FIELDS) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (!isObject(value)) throw MatrixError.badJson(`${field} must be an object`);
    out[keyType] = value as JsonObject;
  }
  return out;
}

/**
 * Registers `POST /keys/device_signing/upload`. Spec (v1.11, MSC3967): uploading the first
 * master key needs no user-interactive auth, nor does a request with no new keys (a retry);
 * replacing keys needs the `m.login.password` stage.
 */
export function registerKeysDeviceSigning(app: ClientApp, services: Services): void {
  const { accounts, e2eKeys } = services;
  clientEndpoint(app, {
    method: 'POST',
    path: '/keys/device_signing/upload',
    versions: ['v3', 'unstable'],
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, body }) => {
      const keys = parseKeys(body);
      // Whether auth is needed is decided in the upload's transaction (two concurrent first
      // uploads cannot both skip it); the password is checked outside it, then stored with auth.
      const outcome = await e2eKeys.crossSigning.uploadSigningKeys(user.userId, keys, false);
      if (outcome === 'needs-auth') {
        const challenge = await requirePassword(body, user.userId, accounts);
        if (challenge !== undefined) return challenge;
        await e2eKeys.crossSigning.uploadSigningKeys(user.userId, keys, true);
      }
      return {};
    },
  });
}
