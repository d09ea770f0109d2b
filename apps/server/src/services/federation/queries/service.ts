/**
 * Federation queries (spec server-server-api "Querying for information", "Device Management",
 * "End-to-End Encryption"): answering other servers (serve-queries.ts) and asking them on behalf
 * of local clients (fan-out.ts). The outbound request function is plugged in with
 * {@link FederationQueryService.setRequest}; without it remote lookups fail as unreachable.
 */
import { MatrixError } from '@weft/transport';

import type { FederationRequest } from '../membership/types.ts';
import { remoteAlias, remoteKeysClaim, remoteKeysQuery, remoteProfile } from './fan-out.ts';
import {
  type QuerySources,
  queryDirectory,
  queryProfile,
  userDevices,
  userKeysClaim,
  userKeysQuery,
} from './serve-queries.ts';

export class FederationQueryService {
  readonly #sources: QuerySources;
  #request: FederationRequest | undefined;

  constructor(sources: QuerySources) {
    this.#sources = sources;
  }

  /** Plugs in the federation core's outbound request function. */
  setRequest(request: FederationRequest): void {
    this.#request = request;
  }

  get #send(): FederationRequest {
    if (this.#request === undefined) throw MatrixError.notFound('Federation is not available');
    return this.#request;
  }

  /** Whether `id` (user ID or alias) belongs to another server. */
  isRemote(id: string): boolean {
    const colon = id.indexOf(':');
    return colon > 0 && id.slice(colon + 1) !== this.#sources.rooms.ctx.config.serverName;
  }

  // --- Answers to other servers ---

  profile(userId: string, field: string | undefined): Promise<Record<string, unknown>> {
    return queryProfile(this.#sources, userId, field);
  }

  directory(alias: string): Promise<{ room_id: string; servers: string[] }> {
    return queryDirectory(this.#sources, alias);
  }

  devices(userId: string): Promise<Record<string, unknown>> {
    return userDevices(this.#sources, userId);
  }

  keysQuery(requested: ReadonlyMap<string, readonly string[]>) {
    return userKeysQuery(this.#sources, requested);
  }

  keysClaim(requested: ReadonlyMap<string, ReadonlyMap<string, string>>) {
    return userKeysClaim(this.#sources, requested);
  }

  // --- Questions to other servers ---

  remoteProfile(userId: string, field?: string): Promise<Record<string, unknown>> {
    return remoteProfile(this.#send, userId, field);
  }

  remoteAlias(alias: string): Promise<{ roomId: string; servers: string[] } | undefined> {
    return remoteAlias(this.#send, alias);
  }

  /** Remote users' device keys; every remote server fails when federation is off. */
  remoteKeysQuery(requested: ReadonlyMap<string, readonly string[]>) {
    if (this.#request === undefined) return Promise.resolve(failAll(requested, 'deviceKeys'));
    return remoteKeysQuery(this.#request, requested);
  }

  remoteKeysClaim(requested: ReadonlyMap<string, ReadonlyMap<string, string>>) {
    if (this.#request === undefined) return Promise.resolve(failAll(requested, 'oneTimeKeys'));
    return remoteKeysClaim(this.#request, requested);
  }
}

function failAll<K extends string>(
  requested: ReadonlyMap<string, unknown>,
  key: K,
): Record<K, Record<string, unknown>> & { failures: Record<string, object> } {
  const failures: Record<string, object> = {};
  for (const userId of requested.keys()) failures[userId.slice(userId.indexOf(':') + 1)] = {};
  return { [key]: {}, failures } as Record<K, Record<string, unknown>> & {
    failures: Record<string, object>;
  };
}
