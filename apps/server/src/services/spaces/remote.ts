/**
 * Asking other servers about rooms this server does not know (client-server-api "Spaces": the
 * servers in a child's `via` are asked with the federation `GET /hierarchy/{roomId}`): the first
 * of up to three `via` servers that answers with a well-formed room wins. Answers are cached a
 * few minutes (the spec: "responses to this endpoint should be cached for a period of time"),
 * failures too, so a page of the client hierarchy and the pages after it ask once. One client
 * request spends a `RemoteBudget`: at most so many rooms asked (cached answers are free) before
 * a deadline that also shortens each request's timeout; a room left unasked for want of budget
 * is not cached.
 */
import { matrixPath } from '@weft/transport';

import { LruMap } from '../../lru-map.ts';
import type { FederationService } from '../federation/service.ts';
import {
  type ChildState,
  childFromRemote,
  type RoomSummary,
  summaryFromRemote,
} from './summary.ts';

/** What a remote server told of a room: its summary, child events and children. */
export interface RemoteHierarchy {
  readonly room: RoomSummary;
  readonly childrenState: readonly ChildState[];
  /** Summaries of the children it could give, by room ID. */
  readonly children: ReadonlyMap<string, RoomSummary>;
  /** Children it says nobody of this server can preview. */
  readonly inaccessible: ReadonlySet<string>;
}

/** What one client request may still spend on other servers (mutated as it is spent). */
export interface RemoteBudget {
  /** Rooms it may still ask about (each of up to MAX_SERVERS servers). */
  fetches: number;
  /** `Date.now()` after which nothing more is asked. */
  readonly deadline: number;
}

/** Rooms one client request asks other servers about at most, and its overall deadline. */
export const REMOTE_FETCHES_PER_REQUEST = 10;
export const REMOTE_DEADLINE_MS = 15_000;

/** A fresh budget for one client request. */
export function remoteBudget(
  fetches = REMOTE_FETCHES_PER_REQUEST,
  deadlineMs = REMOTE_DEADLINE_MS,
): RemoteBudget {
  return { fetches, deadline: Date.now() + deadlineMs };
}

/**
 * Asks the `via` servers about `roomId` within `budget`; `undefined` when none answers usefully
 * (or the budget is spent).
 */
export type RemoteHierarchyFetch = (
  roomId: string,
  via: readonly string[],
  suggestedOnly: boolean,
  budget: RemoteBudget,
) => Promise<RemoteHierarchy | undefined>;

const MAX_SERVERS = 3;
const TIMEOUT_MS = 10_000;
const CACHE_MS = 5 * 60_000;
const MAX_CACHED = 1_000;

function parseAnswer(roomId: string, body: Record<string, unknown>): RemoteHierarchy | undefined {
  const room = summaryFromRemote(body['room']);
  if (room === undefined || room.room_id !== roomId) return undefined;
  const roomObject = body['room'] as Record<string, unknown>;
  const rawChildren = roomObject['children_state'];
  const childrenState = Array.isArray(rawChildren)
    ? rawChildren.flatMap((event) => childFromRemote(event) ?? [])
    : [];
  const children = new Map<string, RoomSummary>();
  if (Array.isArray(body['children'])) {
    for (const entry of body['children']) {
      const summary = summaryFromRemote(entry);
      if (summary !== undefined) children.set(summary.room_id, summary);
    }
  }
  const inaccessible = new Set(
    Array.isArray(body['inaccessible_children'])
      ? body['inaccessible_children'].filter((id): id is string => typeof id === 'string')
      : [],
  );
  return { room, childrenState, children, inaccessible };
}

/** A fetcher through `federation`'s client, with its own cache; never asks `serverName`. */
export function remoteHierarchyFetcher(
  federation: FederationService,
  serverName: string,
  now: () => number,
): RemoteHierarchyFetch {
  const cache = new LruMap<string, { at: number; answer: RemoteHierarchy | undefined }>(MAX_CACHED);
  return async (roomId, via, suggestedOnly, budget) => {
    const key = `${suggestedOnly ? 1 : 0}${roomId}`;
    const cached = cache.get(key);
    if (cached !== undefined && now() - cached.at < CACHE_MS) return cached.answer;
    if (budget.fetches <= 0 || Date.now() >= budget.deadline) return undefined;
    budget.fetches -= 1;
    let answer: RemoteHierarchy | undefined;
    // A failure is cached only when every server had its full timeout.
    let cut = false;
    // Server names only (appendices "Server Name"), never this server.
    const servers = [...new Set(via)].filter(
      (server) =>
        server !== serverName && server.length <= 255 && /^[A-Za-z0-9.\-[\]:]+$/.test(server),
    );
    for (const server of servers.slice(0, MAX_SERVERS)) {
      const left = budget.deadline - Date.now();
      if (left <= 0) {
        cut = true;
        break;
      }
      if (left < TIMEOUT_MS) cut = true;
      try {
        const body = await federation.client.request<Record<string, unknown>>(
          server,
          'GET',
          matrixPath`/_matrix/federation/v1/hierarchy/${roomId}`,
          undefined,
          {
            query: { suggested_only: suggestedOnly ? 'true' : 'false' },
            retry: false,
            timeoutMs: Math.min(TIMEOUT_MS, left),
          },
        );
        answer = parseAnswer(roomId, body);
      } catch {
        // Unreachable, refusing or malformed: try the next server.
      }
      if (answer !== undefined) break;
    }
    if (answer === undefined && cut) return undefined;
    cache.set(key, { at: now(), answer });
    return answer;
  };
}

const fetchers = new WeakMap<FederationService, RemoteHierarchyFetch>();

/** The one fetcher (and cache) of a server, shared by `/hierarchy` and `/room_summary`. */
export function sharedRemoteFetcher(
  federation: FederationService,
  serverName: string,
  now: () => number,
): RemoteHierarchyFetch {
  let fetcher = fetchers.get(federation);
  if (fetcher === undefined) {
    fetcher = remoteHierarchyFetcher(federation, serverName, now);
    fetchers.set(federation, fetcher);
  }
  return fetcher;
}
