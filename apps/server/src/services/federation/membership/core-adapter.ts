/**
 * Plugs the federation core (F1's `FederationService`: signed HTTPS client and server key
 * cache) into the membership and query services' narrow {@link FederationDeps}.
 */
import type { KeyLookup } from '@weft/signing';

import type { FederationService } from '../service.ts';
import type { FederationDeps } from './types.ts';

/** {@link FederationDeps} over `federation`. */
export function federationDepsOf(federation: FederationService): FederationDeps {
  return {
    request: (destination, method, path, body) =>
      federation.client.request(destination, method, path, body),
    requestStreaming: (destination, method, path, body, readBody) =>
      federation.client.request(destination, method, path, body, { readBody }),
    keys: async (events): Promise<KeyLookup> => {
      // Each (server, key) once, at the newest event time it signed (the strictest validity).
      const wanted = new Map<string, { keyIds: Set<string>; atTs: number }>();
      for (const event of events) {
        if (typeof event !== 'object' || event === null) continue;
        const { signatures, origin_server_ts: ts } = event as Record<string, unknown>;
        if (typeof signatures !== 'object' || signatures === null) continue;
        const atTs = typeof ts === 'number' ? ts : 0;
        for (const [server, keys] of Object.entries(signatures)) {
          if (typeof keys !== 'object' || keys === null) continue;
          const entry = wanted.get(server) ?? { keyIds: new Set<string>(), atTs };
          for (const id of Object.keys(keys)) if (id.startsWith('ed25519:')) entry.keyIds.add(id);
          entry.atTs = Math.max(entry.atTs, atTs);
          wanted.set(server, entry);
        }
      }
      await Promise.all(
        [...wanted].map(([server, { keyIds, atTs }]) =>
          // One unreachable signer must not fail the batch: verifyEvent reports its events.
          federation.keys.prefetch(server, [...keyIds], atTs).catch(() => undefined),
        ),
      );
      return federation.keys.lookup;
    },
    warmKeys: (server) =>
      federation.keys.refreshIfStale(server, federation.ctx.now()).catch(() => undefined),
    forwardAccepted: (tx, event, origin) => federation.forwardAccepted(tx, event, origin),
    deliveredByResident: (eventId) => federation.deliveredByResident(eventId),
  };
}
