/**
 * What the membership handshakes need from the federation core (engineer F1's services), as
 * narrow function types so this directory does not depend on how they are built:
 * - `FederationRequest`: one signed request to another server's federation API (the signature of
 *   F1's `federationClient.request`); resolves to the parsed JSON body, throws `MatrixError` on
 *   an error response.
 * - `ServerKeyLookup`: makes sure the verify keys behind every signature on `events` are known
 *   (fetched or cached), then answers the synchronous `KeyLookup` @weft/signing's `verifyEvent`
 *   takes.
 */
import type { KeyLookup } from '@weft/signing';

import type { ServerContext } from '../../core/context.ts';

/** One request to `destination`'s federation API; resolves to the JSON body. */
export type FederationRequest = (
  destination: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: Readonly<Record<string, unknown>>,
) => Promise<Record<string, unknown>>;

/** Fetches (or reads cached) the keys that signed `events` (raw PDUs); returns a lookup. */
export type ServerKeyLookup = (events: readonly unknown[]) => Promise<KeyLookup>;

/** The federation core functions the membership code uses. */
export interface FederationDeps {
  readonly request: FederationRequest;
  readonly keys: ServerKeyLookup;
}

/** The server part of a user ID, room alias or room ID (`@a:b:8448` → `b:8448`). */
export function serverNameOf(id: string): string {
  const colon = id.indexOf(':');
  if (colon < 0) throw new RangeError(`not a Matrix identifier: ${id}`);
  return id.slice(colon + 1);
}

/** `lookup`, answering this server's own current key itself (events we signed come back). */
export function withOwnKey(ctx: ServerContext, lookup: KeyLookup): KeyLookup {
  return (entity, keyId, ts) =>
    entity === ctx.config.serverName && keyId === ctx.signingKey.keyId
      ? ctx.signingKey.publicKeyBase64
      : lookup(entity, keyId, ts);
}
