// POST /_matrix/client/v3/search
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3search
// The `room_events` category (the only one the spec defines); the index and the search itself
// are services/search.
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { GroupKey, RoomEventsCriteria, SearchToken } from '../../services/search/service.ts';
import { SEARCH_KEYS, type SearchKey } from '../../services/search/store.ts';
import { roomEventFilterOf } from './room-event-filter.ts';
import { isObject, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Results per page without a filter `limit` (Synapse's default), and the most one page holds. */
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
/** Spec `event_context`: "By default, this is `5`"; at most this many either side. */
const DEFAULT_CONTEXT = 5;
const MAX_CONTEXT = 100;

function contextLimit(object: Record<string, unknown>, key: string): number {
  const value = object[key];
  if (value === undefined || value === null) return DEFAULT_CONTEXT;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw MatrixError.badJson(`event_context.${key} must be a non-negative integer`);
  }
  return Math.min(value, MAX_CONTEXT);
}

/** The `room_events` criteria; 400 for anything malformed. */
function parseRoomEventsCriteria(json: Record<string, unknown>): RoomEventsCriteria {
  const searchTerm = requiredString(json, 'search_term');
  let keys: readonly SearchKey[] = SEARCH_KEYS;
  const rawKeys = json['keys'];
  if (rawKeys !== undefined && rawKeys !== null) {
    if (!Array.isArray(rawKeys) || !rawKeys.every((key) => typeof key === 'string')) {
      throw MatrixError.badJson('keys must be a list of strings');
    }
    for (const key of rawKeys) {
      if (!SEARCH_KEYS.includes(key as SearchKey)) {
        throw MatrixError.invalidParam(`keys: unknown key ${String(key).slice(0, 64)}`);
      }
    }
    // An empty list searches nothing; Synapse reads it as the default, so do we.
    if (rawKeys.length > 0) keys = SEARCH_KEYS.filter((key) => rawKeys.includes(key));
  }
  const parsed = roomEventFilterOf(json['filter']);
  const orderBy = json['order_by'] ?? 'rank';
  if (orderBy !== 'rank' && orderBy !== 'recent') {
    throw MatrixError.invalidParam('order_by must be rank or recent');
  }
  let eventContext: RoomEventsCriteria['eventContext'];
  const context = json['event_context'];
  if (context !== undefined && context !== null) {
    if (!isObject(context)) throw MatrixError.badJson('event_context must be an object');
    const includeProfile = context['include_profile'] ?? false;
    if (typeof includeProfile !== 'boolean') {
      throw MatrixError.badJson('event_context.include_profile must be a boolean');
    }
    eventContext = {
      beforeLimit: contextLimit(context, 'before_limit'),
      afterLimit: contextLimit(context, 'after_limit'),
      includeProfile,
    };
  }
  const includeState = json['include_state'] ?? false;
  if (typeof includeState !== 'boolean')
    throw MatrixError.badJson('include_state must be a boolean');
  const groupBy: GroupKey[] = [];
  const groupings = json['groupings'];
  if (groupings !== undefined && groupings !== null) {
    if (!isObject(groupings)) throw MatrixError.badJson('groupings must be an object');
    const list = groupings['group_by'] ?? [];
    if (!Array.isArray(list)) throw MatrixError.badJson('groupings.group_by must be a list');
    for (const group of list) {
      const key = isObject(group) ? group['key'] : undefined;
      if (key !== 'room_id' && key !== 'sender') {
        throw MatrixError.invalidParam('groupings.group_by: key must be room_id or sender');
      }
      if (!groupBy.includes(key)) groupBy.push(key);
    }
  }
  return {
    searchTerm,
    keys,
    filter: parsed.filter,
    rooms: parsed.rooms,
    notRooms: parsed.notRooms,
    limit: Math.min(Math.max(parsed.limit ?? DEFAULT_LIMIT, 1), MAX_LIMIT),
    orderBy,
    eventContext,
    includeState,
    groupBy,
  };
}

/** A `next_batch` this server issued (services/search encodes it); 400 for anything else. */
function parseSearchToken(raw: string, orderBy: 'rank' | 'recent'): SearchToken {
  const invalid = () => MatrixError.invalidParam('next_batch is not a valid token');
  if (raw.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalid();
  let json: unknown;
  try {
    json = parseAnyJson(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!isObject(json) || json['o'] !== orderBy) throw invalid();
  const count = (value: unknown) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
  const group =
    json['g'] === undefined
      ? undefined
      : (json['g'] === 'room_id' || json['g'] === 'sender') && typeof json['v'] === 'string'
        ? { key: json['g'] as GroupKey, value: json['v'] }
        : null;
  if (group === null) throw invalid();
  if (orderBy === 'rank') {
    if (!count(json['n'])) throw invalid();
    return { order: 'rank', offset: json['n'] as number, before: undefined, group };
  }
  if (json['p'] !== undefined && !count(json['p'])) throw invalid();
  return { order: 'recent', offset: 0, before: json['p'] as number | undefined, group };
}

function parseSearch(json: Record<string, unknown>): {
  roomEvents: RoomEventsCriteria | undefined;
} {
  const categories = json['search_categories'];
  if (!isObject(categories)) throw MatrixError.badJson('search_categories must be an object');
  const roomEvents = categories['room_events'];
  if (roomEvents === undefined || roomEvents === null) return { roomEvents: undefined };
  if (!isObject(roomEvents)) throw MatrixError.badJson('room_events must be an object');
  return { roomEvents: parseRoomEventsCriteria(roomEvents) };
}

export function registerSearch(app: ClientApp, services: Services): void {
  const { search } = services;

  clientEndpoint(app, {
    method: 'POST',
    path: '/search',
    auth: 'user',
    rateLimit: true,
    parseBody: parseSearch,
    handler: async ({ body, query, user }) => {
      const criteria = body.roomEvents;
      if (criteria === undefined) return { search_categories: {} };
      const raw = query.get('next_batch');
      const token =
        raw === null || raw === '' ? undefined : parseSearchToken(raw, criteria.orderBy);
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      return {
        search_categories: {
          room_events: await search.searchRoomEvents(viewer, criteria, token),
        },
      };
    },
  });
}
