// GET /_matrix/client/v3/sync
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3sync
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';
import type { Context } from 'hono';

import { LruMap } from '../../lru-map.ts';
import type { Services } from '../../services/index.ts';
import {
  DEFAULT_SYNC_FILTER,
  parseSyncFilter,
  type SyncFilter,
} from '../../services/sync/filter.ts';
import type { LongPollClient, SyncRequest } from '../../services/sync/service.ts';
import { parseSyncToken } from '../../services/sync/token.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Looks up a stored filter's JSON by ID (the filter API's owner provides it). */
export type FilterLookup = (userId: string, filterId: string) => Promise<unknown | undefined>;

/**
 * Spec `filter` parameter: "The server will detect whether it is an ID or a JSON object by
 * whether the first character is a `{` open brace".
 */
async function resolveFilter(
  raw: string | null,
  userId: string,
  lookup: FilterLookup | undefined,
): Promise<SyncFilter> {
  if (raw === null || raw === '') return DEFAULT_SYNC_FILTER;
  if (raw.startsWith('{')) {
    let json: unknown;
    try {
      json = parseAnyJson(raw);
    } catch {
      throw MatrixError.notJson('filter is not valid JSON');
    }
    return parseSyncFilter(json);
  }
  const stored = lookup === undefined ? undefined : await lookup(userId, raw);
  if (stored === undefined) throw MatrixError.invalidParam('Unknown filter ID');
  return parseSyncFilter(stored);
}

/** Most parsed filters kept per server, and the longest filter text kept. */
const FILTER_CACHE_SIZE = 1_000;
const MAX_CACHED_FILTER_TEXT = 1_024;

/**
 * {@link resolveFilter} with the filters it parsed kept: a client sends the same `filter` with
 * every long-poll, and parsing it again was ≈ 4% of what the sync load allocated. A stored
 * filter never changes once created (spec "Filtering": `POST /user/{userId}/filter` makes a new
 * ID), so it is kept by user and ID; an inline one by its text, when short.
 */
function cachedFilterResolver(lookup: FilterLookup | undefined) {
  const parsed = new LruMap<string, SyncFilter>(FILTER_CACHE_SIZE);
  // A kept filter is returned as it is, not in a promise: every long-poll asks.
  return (raw: string | null, userId: string): SyncFilter | Promise<SyncFilter> => {
    if (raw === null || raw === '') return DEFAULT_SYNC_FILTER;
    const key = raw.startsWith('{') ? raw : `${userId}\u0000${raw}`;
    const hit = parsed.get(key);
    if (hit !== undefined) return hit;
    return resolveFilter(raw, userId, lookup).then((filter) => {
      if (key.length <= MAX_CACHED_FILTER_TEXT) parsed.set(key, filter);
      return filter;
    });
  };
}

/**
 * The long-poll's client, as the server passes it to the app (`app.fetch(request, { client })`,
 * server.ts): gone once its connection closed before the answer. Not `request.signal`: an
 * `AbortController` with its listeners was ≈ 10–25 µs per long-poll (decision record of
 * session 5).
 */
function clientOf(context: Context): LongPollClient | undefined {
  const client = (context.env as { client?: Partial<LongPollClient> } | undefined)?.client;
  return typeof client?.gone === 'function' && typeof client.onGone === 'function'
    ? (client as LongPollClient)
    : undefined;
}

function parseTimeout(raw: string | null): number {
  if (raw === null || raw === '') return 0;
  if (!/^\d{1,15}$/.test(raw))
    throw MatrixError.invalidParam('timeout must be a non-negative integer');
  return Number(raw);
}

function parseBoolean(raw: string | null, name: string): boolean {
  if (raw === null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw MatrixError.invalidParam(`${name} must be true or false`);
}

/**
 * Reads a `/sync` request's query (spec GET /sync parameters) into a {@link SyncRequest}; throws
 * `M_INVALID_PARAM` / `M_NOT_JSON` for bad ones. Each reader keeps the filters it parsed.
 */
export function syncRequestReader(filterLookup: FilterLookup | undefined) {
  const filterOf = cachedFilterResolver(filterLookup);
  const read = (
    query: URLSearchParams,
    filter: SyncFilter,
    client: LongPollClient | undefined,
  ): SyncRequest => {
    const sinceRaw = query.get('since');
    const since = sinceRaw === null || sinceRaw === '' ? undefined : parseSyncToken(sinceRaw);
    if (sinceRaw !== null && sinceRaw !== '' && since === undefined) {
      throw MatrixError.invalidParam('since is not a sync token of this server');
    }
    const setPresence = query.get('set_presence');
    if (
      setPresence !== null &&
      setPresence !== 'offline' &&
      setPresence !== 'online' &&
      setPresence !== 'unavailable'
    ) {
      throw MatrixError.invalidParam('set_presence must be offline, online or unavailable');
    }
    return {
      since,
      fullState: parseBoolean(query.get('full_state'), 'full_state'),
      timeoutMs: parseTimeout(query.get('timeout')),
      filter,
      setPresence: setPresence ?? undefined,
      client,
    };
  };
  // A kept filter needs no promise: the whole read is then synchronous.
  return (
    query: URLSearchParams,
    userId: string,
    client: LongPollClient | undefined,
  ): SyncRequest | Promise<SyncRequest> => {
    const filter = filterOf(query.get('filter'), userId);
    return filter instanceof Promise
      ? filter.then((found) => read(query, found, client))
      : read(query, filter, client);
  };
}

/** Registers `GET /sync`; stored filters are looked up with `options.filterLookup`. */
export function registerSync(
  app: ClientApp,
  services: Services,
  options: { filterLookup?: FilterLookup } = {},
): void {
  const readRequest = syncRequestReader(options.filterLookup);
  clientEndpoint(app, {
    method: 'GET',
    path: '/sync',
    auth: 'user',
    handler: async ({ user, query, context }) => {
      const read = readRequest(query, user.userId, clientOf(context));
      return services.sync.sync(user, read instanceof Promise ? await read : read);
    },
  });
}
