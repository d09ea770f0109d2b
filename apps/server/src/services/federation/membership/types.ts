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

import type { SqlExecutor } from '../../../storage/index.ts';
import type { ServerContext } from '../../core/context.ts';
import type { StoredEvent } from '../../rooms/types.ts';

/** One request to `destination`'s federation API; resolves to the JSON body. */
export type FederationRequest = (
  destination: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: Readonly<Record<string, unknown>>,
) => Promise<Record<string, unknown>>;

/**
 * `FederationRequest` whose 2xx body `readBody` reads as it arrives (a big send_join answer is
 * checked while the rest is on the wire); resolves to `readBody`'s value.
 */
export type StreamingFederationRequest = (
  destination: string,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body: Readonly<Record<string, unknown>> | undefined,
  readBody: (chunks: AsyncIterable<Uint8Array>) => Promise<Record<string, unknown>>,
) => Promise<Record<string, unknown>>;

/**
 * Fetches (or reads cached) the keys that signed `events` (raw PDUs); returns a lookup that
 * answers for those keys and every key fetched before: a streamed join keeps only the newest
 * lookup while earlier chunks are still being checked (remote-join.ts).
 */
export type ServerKeyLookup = (events: readonly unknown[]) => Promise<KeyLookup>;

/** The federation core functions the membership code uses. */
export interface FederationDeps {
  readonly request: FederationRequest;
  /** `request` reading the answer as it arrives (absent: joins read the whole answer first). */
  readonly requestStreaming?: StreamingFederationRequest;
  readonly keys: ServerKeyLookup;
  /**
   * Starts fetching `server`'s keys unless a valid one is known (a join fetches the resident
   * server's while make_join runs); never rejects.
   */
  readonly warmKeys?: (server: string) => Promise<void>;
  /** Queues a join/leave accepted via `send_join`/`send_leave` for the room's other servers. */
  readonly forwardAccepted?: AcceptedForwarder;
  /** Notes that the resident server sends this local join on (no fan-out of our own). */
  readonly deliveredByResident?: (eventId: string) => void;
}

/** Queues `event` (accepted from `origin`) for the room's other servers, inside `tx`. */
export type AcceptedForwarder = (
  tx: SqlExecutor,
  event: StoredEvent,
  origin: string,
) => Promise<void>;

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
