/**
 * Asking notary servers for another server's keys (spec server-server-api "Querying Keys Through
 * Another Server", `POST /_matrix/key/v2/query`,
 * https://spec.matrix.org/v1.19/server-server-api/#post_matrixkeyv2query), used when the server's
 * own `/_matrix/key/v2/server` cannot be reached. A notary's answer is used only when
 * 1. the notary signed it, under a key pinned in the config or fetched from the notary itself;
 * 2. it is the origin's self-signed response for the server asked about (checked by the caller
 *    with `verifyServerKeys`, as for a direct fetch).
 * So a notary can vouch that it saw the keys, but cannot invent keys for another server.
 */
import { decodeBase64, type JsonObject, verifyJson } from '@weft/signing';

import type { TrustedKeyServer } from '../../../config.ts';
import { isObject } from '../../../json-object.ts';

/** What querying notaries needs from the key store. */
export interface NotaryDeps {
  readonly notaries: readonly TrustedKeyServer[];
  /** Sends `POST /_matrix/key/v2/query` to `notary`; resolves to its JSON answer. */
  query(notary: string, body: JsonObject): Promise<JsonObject>;
  /** The notary's verify key `keyId` (fetched from the notary itself when not pinned). */
  notaryKey(notary: string, keyId: string): Promise<Uint8Array | undefined>;
  /** Records why a notary's answer was not used (never with key material). */
  warn(message: string, fields: Record<string, unknown>): void;
}

/**
 * The key responses for `serverName` that the configured notaries, asked in order, sign;
 * from the first notary that has any. Empty when none can help.
 */
export async function queryNotaries(deps: NotaryDeps, serverName: string): Promise<JsonObject[]> {
  for (const notary of deps.notaries) {
    if (notary.serverName === serverName) continue;
    let answer: JsonObject;
    try {
      // An empty criteria object asks for every key of the server.
      answer = await deps.query(notary.serverName, { server_keys: { [serverName]: {} } });
    } catch (error) {
      deps.warn('notary key query failed', {
        notary: notary.serverName,
        server: serverName,
        error: (error as Error).message,
      });
      continue;
    }
    const list = answer['server_keys'];
    if (!Array.isArray(list)) continue;
    const vouched: JsonObject[] = [];
    for (const entry of list) {
      if (!isObject(entry)) continue;
      const response = entry as JsonObject;
      if (response['server_name'] !== serverName) continue;
      if (await signedByNotary(deps, notary, response)) vouched.push(response);
      else deps.warn('notary signature missing or invalid', { notary: notary.serverName });
    }
    if (vouched.length > 0) return vouched;
  }
  return [];
}

/**
 * Whether `response` carries a valid signature of `notary`: every signature under a key we
 * know must verify, and at least one must be there.
 */
async function signedByNotary(
  deps: NotaryDeps,
  notary: TrustedKeyServer,
  response: JsonObject,
): Promise<boolean> {
  const signatures = response['signatures'];
  if (typeof signatures !== 'object' || signatures === null) return false;
  const byNotary = (signatures as Record<string, unknown>)[notary.serverName];
  if (typeof byNotary !== 'object' || byNotary === null) return false;
  let verified = 0;
  // Pinned keys, when configured, are the only ones trusted for this notary.
  const pinnedOnly = Object.keys(notary.verifyKeys).length > 0;
  for (const keyId of Object.keys(byNotary)) {
    const pinned = notary.verifyKeys[keyId];
    let key: Uint8Array | undefined;
    if (pinned !== undefined) key = decodeBase64(pinned);
    else if (!pinnedOnly) key = await deps.notaryKey(notary.serverName, keyId);
    if (key === undefined) continue;
    let valid = false;
    try {
      valid = verifyJson(response, notary.serverName, keyId, key).valid;
    } catch {
      valid = false;
    }
    if (!valid) return false;
    verified++;
  }
  return verified > 0;
}
