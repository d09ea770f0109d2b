/**
 * The `filter` query parameter of `/messages` and `/context`: a JSON RoomEventFilter (spec
 * client-server-api "Filtering"). Only the fields this server applies are read; a malformed
 * filter is 400 M_BAD_JSON, never ignored silently.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import type { EventFilter } from '../../services/rooms/timeline.ts';
import { isObject } from './room-params.ts';

export interface ParsedRoomEventFilter {
  readonly filter: EventFilter;
  readonly lazyLoadMembers: boolean;
  readonly limit: number | undefined;
  /** `rooms` and `not_rooms` (only `POST /search` reads them: the other endpoints name their one room). */
  readonly rooms?: readonly string[] | undefined;
  readonly notRooms?: readonly string[] | undefined;
}

function stringList(object: Record<string, unknown>, key: string): string[] | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw MatrixError.badJson(`filter.${key} must be a list of strings`);
  }
  return value as string[];
}

export function parseRoomEventFilter(raw: string | null): ParsedRoomEventFilter {
  if (raw === null || raw === '') return { filter: {}, lazyLoadMembers: false, limit: undefined };
  let json: unknown;
  try {
    json = parseAnyJson(raw);
  } catch {
    throw MatrixError.badJson('filter is not valid JSON');
  }
  return roomEventFilterOf(json);
}

/** A RoomEventFilter given as JSON (`filter` of `POST /search`): as {@link parseRoomEventFilter}. */
export function roomEventFilterOf(json: unknown): ParsedRoomEventFilter {
  if (json === undefined || json === null) {
    return { filter: {}, lazyLoadMembers: false, limit: undefined };
  }
  if (!isObject(json)) throw MatrixError.badJson('filter must be a JSON object');
  const rooms = stringList(json, 'rooms');
  const notRooms = stringList(json, 'not_rooms');
  const types = stringList(json, 'types');
  const notTypes = stringList(json, 'not_types');
  const senders = stringList(json, 'senders');
  const notSenders = stringList(json, 'not_senders');
  const containsUrl = json['contains_url'];
  if (containsUrl !== undefined && typeof containsUrl !== 'boolean') {
    throw MatrixError.badJson('filter.contains_url must be a boolean');
  }
  const lazy = json['lazy_load_members'];
  if (lazy !== undefined && typeof lazy !== 'boolean') {
    throw MatrixError.badJson('filter.lazy_load_members must be a boolean');
  }
  const limit = json['limit'];
  if (limit !== undefined && (!Number.isInteger(limit) || (limit as number) < 0)) {
    throw MatrixError.badJson('filter.limit must be a non-negative integer');
  }
  return {
    filter: {
      ...(types !== undefined ? { types } : {}),
      ...(notTypes !== undefined ? { notTypes } : {}),
      ...(senders !== undefined ? { senders } : {}),
      ...(notSenders !== undefined ? { notSenders } : {}),
      ...(containsUrl !== undefined ? { containsUrl } : {}),
    },
    lazyLoadMembers: lazy === true,
    limit: limit as number | undefined,
    ...(rooms !== undefined ? { rooms } : {}),
    ...(notRooms !== undefined ? { notRooms } : {}),
  };
}
