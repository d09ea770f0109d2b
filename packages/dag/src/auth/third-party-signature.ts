/**
 * Rule 5.4.1.7's signature check: "If any signature in `signed` matches any public key in the
 * `m.room.third_party_invite` event, allow" (rooms/v10.md–v12.md), verified with the spec's
 * "Checking for a Signature" procedure (appendices) through `@weft/signing`.
 */
import { decodeBase64, decodeBase64Url, type JsonObject, verifyJson } from '@weft/signing';

import { isJsonObject } from './state-access.ts';

/** The identity server's key as raw bytes; the spec allows standard or URL-safe base64. */
function decodeKey(key: string): Uint8Array | undefined {
  for (const decode of [decodeBase64, decodeBase64Url]) {
    try {
      const bytes = decode(key);
      if (bytes.length === 32) return bytes;
    } catch {
      // Not this alphabet; try the next one.
    }
  }
  return undefined;
}

/**
 * True when some `signatures[server][keyId]` entry of `signed` is a valid Ed25519 signature of
 * `signed` under one of `publicKeys`. Malformed keys or signatures simply do not match.
 */
export function verifyThirdPartyInviteSigned(
  signed: Readonly<Record<string, unknown>>,
  publicKeys: readonly string[],
): boolean {
  const signatures = signed['signatures'];
  if (!isJsonObject(signatures)) return false;
  const keys = publicKeys.map(decodeKey).filter((k): k is Uint8Array => k !== undefined);
  for (const [server, byKeyId] of Object.entries(signatures)) {
    if (!isJsonObject(byKeyId)) continue;
    for (const keyId of Object.keys(byKeyId)) {
      for (const key of keys) {
        try {
          if (verifyJson(signed as JsonObject, server, keyId, key).valid) return true;
        } catch {
          // Not encodable as canonical JSON: cannot carry a valid signature.
          return false;
        }
      }
    }
  }
  return false;
}
