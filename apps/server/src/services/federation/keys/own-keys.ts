/**
 * This server's key response, `GET /_matrix/key/v2/server` (spec server-server-api "Publishing
 * Keys"): the current signing key in `verify_keys`, retired keys from `federation.old_keys` in
 * `old_verify_keys`, valid for a day, self-signed.
 */
import { buildServerKeys, type ServerKeysResponse } from '@weft/signing';

import type { ServerContext } from '../../core/context.ts';

/** How long other servers may cache our current key (`valid_until_ts` = now + this). */
export const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** Builds our signed key response. */
export function ownServerKeys(ctx: ServerContext): ServerKeysResponse {
  const oldVerifyKeys: Record<string, { key: string; expiredTs: number }> = {};
  for (const [keyId, old] of Object.entries(ctx.config.federation.oldKeys)) {
    if (keyId !== ctx.signingKey.keyId) oldVerifyKeys[keyId] = old;
  }
  return buildServerKeys({
    serverName: ctx.config.serverName,
    signingKeys: [ctx.signingKey],
    oldVerifyKeys,
    validUntilTs: ctx.now() + KEY_VALIDITY_MS,
  });
}
