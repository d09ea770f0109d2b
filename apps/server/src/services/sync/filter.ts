/**
 * Sync filters (client-server-api "Filtering"; the `Filter` schema of `POST /user/{userId}/
 * filter`): parsed from inline JSON or a stored filter's JSON into what `/sync` applies — room
 * inclusion (`rooms`, `not_rooms`, `include_leave`), per-section event filters (types, senders),
 * the timeline `limit` (default 10), `lazy_load_members` and the timeline filter's
 * `unread_thread_notifications` (per-thread unread counts, as Synapse reads it). Fields this
 * server does not apply (`event_fields`, `event_format`) are accepted and ignored.
 */
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import { type EventFilter, eventMatches } from '../rooms/timeline.ts';
import type { StoredEvent } from '../rooms/types.ts';

/** The default number of timeline events per room (what Synapse uses too). */
export const DEFAULT_TIMELINE_LIMIT = 10;
/** A cap so a client cannot make one sync read an unbounded history. */
export const MAX_TIMELINE_LIMIT = 1000;

/** A parsed sync filter: what this server applies of the spec's `Filter`. */
export interface SyncFilter {
  readonly rooms: ReadonlySet<string> | undefined;
  readonly notRooms: ReadonlySet<string>;
  readonly includeLeave: boolean;
  readonly timeline: EventFilter;
  readonly timelineLimit: number;
  readonly state: EventFilter;
  readonly lazyLoadMembers: boolean;
  /**
   * `room.timeline.unread_thread_notifications`: `unread_notifications` counts the main timeline
   * only and `unread_thread_notifications` the threads (spec `/sync` "Joined Room").
   */
  readonly unreadThreadNotifications: boolean;
  readonly ephemeral: EventFilter;
  readonly roomAccountData: EventFilter;
  readonly accountData: EventFilter;
  readonly presence: EventFilter;
}

/** The filter of a sync without one. */
export const DEFAULT_SYNC_FILTER: SyncFilter = {
  rooms: undefined,
  notRooms: new Set(),
  includeLeave: false,
  timeline: {},
  timelineLimit: DEFAULT_TIMELINE_LIMIT,
  state: {},
  lazyLoadMembers: false,
  unreadThreadNotifications: false,
  ephemeral: {},
  roomAccountData: {},
  accountData: {},
  presence: {},
};

type Json = Record<string, unknown>;

function object(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw MatrixError.badJson(`filter ${path}${key} must be an object`);
  }
  return value as Json;
}

function stringList(parent: Json, key: string, path: string): string[] | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw MatrixError.badJson(`filter ${path}${key} must be a list of strings`);
  }
  return value as string[];
}

function boolean(parent: Json, key: string, path: string): boolean | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw MatrixError.badJson(`filter ${path}${key} must be a boolean`);
  return value;
}

/** Spec "EventFilter" / "RoomEventFilter" fields this server applies. */
function eventFilter(json: Json, path: string): EventFilter {
  const types = stringList(json, 'types', path);
  const notTypes = stringList(json, 'not_types', path);
  const senders = stringList(json, 'senders', path);
  const notSenders = stringList(json, 'not_senders', path);
  const containsUrl = boolean(json, 'contains_url', path);
  return {
    ...(types !== undefined ? { types } : {}),
    ...(notTypes !== undefined ? { notTypes } : {}),
    ...(senders !== undefined ? { senders } : {}),
    ...(notSenders !== undefined ? { notSenders } : {}),
    ...(containsUrl !== undefined ? { containsUrl } : {}),
  };
}

/** Parses a filter object (already JSON-decoded); 400 `M_BAD_JSON` for wrong types. */
export function parseSyncFilter(json: unknown): SyncFilter {
  if (!isObject(json)) {
    throw MatrixError.badJson('filter must be a JSON object');
  }
  const root = json as Json;
  const room = object(root, 'room', '');
  const timeline = object(room, 'timeline', 'room.');
  const state = object(room, 'state', 'room.');
  const limit = timeline['limit'];
  if (
    limit !== undefined &&
    limit !== null &&
    !(Number.isInteger(limit) && (limit as number) >= 0)
  ) {
    throw MatrixError.badJson('filter room.timeline.limit must be a non-negative integer');
  }
  const rooms = stringList(room, 'rooms', 'room.');
  return {
    rooms: rooms === undefined ? undefined : new Set(rooms),
    notRooms: new Set(stringList(room, 'not_rooms', 'room.') ?? []),
    includeLeave: boolean(room, 'include_leave', 'room.') ?? false,
    timeline: eventFilter(timeline, 'room.timeline.'),
    timelineLimit: Math.min(
      typeof limit === 'number' ? limit : DEFAULT_TIMELINE_LIMIT,
      MAX_TIMELINE_LIMIT,
    ),
    state: eventFilter(state, 'room.state.'),
    lazyLoadMembers: boolean(state, 'lazy_load_members', 'room.state.') ?? false,
    unreadThreadNotifications:
      boolean(timeline, 'unread_thread_notifications', 'room.timeline.') ?? false,
    ephemeral: eventFilter(object(room, 'ephemeral', 'room.'), 'room.ephemeral.'),
    roomAccountData: eventFilter(object(room, 'account_data', 'room.'), 'room.account_data.'),
    accountData: eventFilter(object(root, 'account_data', ''), 'account_data.'),
    presence: eventFilter(object(root, 'presence', ''), 'presence.'),
  };
}

/** Whether a room passes the filter's `rooms` / `not_rooms`. */
export function roomIncluded(filter: SyncFilter, roomId: string): boolean {
  if (filter.notRooms.has(roomId)) return false;
  return filter.rooms === undefined || filter.rooms.has(roomId);
}

/** Whether a stored room event passes an event filter. */
export function storedEventMatches(event: StoredEvent, filter: EventFilter): boolean {
  return eventMatches(event, filter);
}

/** Whether a non-room event (`{ type, sender? }`) passes an event filter's type and sender rules. */
export function plainEventMatches(
  event: { readonly type: string; readonly sender?: string },
  filter: EventFilter,
): boolean {
  const typeMatches = (patterns: readonly string[]) =>
    patterns.some((p) =>
      p.endsWith('*') ? event.type.startsWith(p.slice(0, -1)) : event.type === p,
    );
  if (filter.notTypes !== undefined && typeMatches(filter.notTypes)) return false;
  if (filter.types !== undefined && !typeMatches(filter.types)) return false;
  if (event.sender !== undefined) {
    if (filter.notSenders?.includes(event.sender)) return false;
    if (filter.senders !== undefined && !filter.senders.includes(event.sender)) return false;
  }
  return true;
}
