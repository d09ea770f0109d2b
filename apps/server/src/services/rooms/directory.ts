/**
 * Room aliases and the public room directory (spec client-server-api "Room aliases", "Listing
 * rooms in the room directory"). Aliases of this server live in `room_aliases`; the directory is
 * the `rooms.is_public` flag.
 */
import { MatrixError } from '@weft/transport';

import { StorageError } from '../../storage/index.ts';
import { senderPowerLevelOf } from './power.ts';
import { loadRoom } from './room-store.ts';
import type { RoomService } from './service.ts';

/** The room an alias points to, or `undefined`. */
export async function resolveAlias(rooms: RoomService, alias: string): Promise<string | undefined> {
  const row = await rooms.ctx.db.queryOne<{ room_id: string }>(
    'SELECT room_id FROM room_aliases WHERE room_alias = $1',
    [alias],
  );
  return row?.room_id;
}

/** Creates an alias; 409 M_UNKNOWN when taken, 404 for an unknown room. */
export async function createAlias(
  rooms: RoomService,
  alias: string,
  roomId: string,
  creator: string,
): Promise<void> {
  if ((await loadRoom(rooms.ctx.db, roomId)) === undefined)
    throw MatrixError.notFound('Unknown room');
  try {
    await rooms.ctx.db.execute(
      'INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)',
      [alias, roomId, creator],
    );
  } catch (error) {
    if (StorageError.isInstance(error) && error.code === 'unique-violation') {
      throw new MatrixError(409, 'M_UNKNOWN', 'Room alias already exists');
    }
    throw error;
  }
}

/**
 * Deletes an alias: allowed for its creator and for joined users who may change the room's
 * `m.room.canonical_alias` (spec: "servers may choose to … allow … room moderators"); a former
 * member's old power level no longer counts.
 */
export async function deleteAlias(
  rooms: RoomService,
  alias: string,
  userId: string,
): Promise<void> {
  const row = await rooms.ctx.db.queryOne<{ room_id: string; creator: string }>(
    'SELECT room_id, creator FROM room_aliases WHERE room_alias = $1',
    [alias],
  );
  if (row === undefined) throw MatrixError.notFound('Room alias not found');
  if (row.creator !== userId) {
    const level = await senderPowerLevelOf(rooms, row.room_id, userId);
    if (!level.joined || level.sender < level.required('m.room.canonical_alias', true)) {
      throw MatrixError.forbidden('You may not delete this alias');
    }
  }
  // Only the row checked above: an alias deleted and re-created (another room, another creator)
  // since that read is not this caller's to delete.
  const deleted = await rooms.ctx.db.execute(
    'DELETE FROM room_aliases WHERE room_alias = $1 AND room_id = $2 AND creator = $3',
    [alias, row.room_id, row.creator],
  );
  if (deleted === 0) throw MatrixError.notFound('Room alias not found');
}

/** Local aliases of a room. */
export async function aliasesOf(rooms: RoomService, roomId: string): Promise<string[]> {
  const rows = await rooms.ctx.db.query<{ room_alias: string }>(
    'SELECT room_alias FROM room_aliases WHERE room_id = $1 ORDER BY room_alias',
    [roomId],
  );
  return rows.map((row) => row.room_alias);
}

/** Whether a room is listed in the public directory. */
export async function directoryVisibility(
  rooms: RoomService,
  roomId: string,
): Promise<'public' | 'private'> {
  const room = await loadRoom(rooms.ctx.db, roomId);
  if (room === undefined) throw MatrixError.notFound('Unknown room');
  return room.isPublic ? 'public' : 'private';
}

/** Lists or unlists a room; only users who may send `m.room.canonical_alias` may. */
export async function setDirectoryVisibility(
  rooms: RoomService,
  roomId: string,
  userId: string,
  visibility: 'public' | 'private',
): Promise<void> {
  if ((await loadRoom(rooms.ctx.db, roomId)) === undefined)
    throw MatrixError.notFound('Unknown room');
  const level = await senderPowerLevelOf(rooms, roomId, userId);
  if (!level.joined || level.sender < level.required('m.room.canonical_alias', true)) {
    throw MatrixError.forbidden('You may not change the directory visibility of this room');
  }
  await rooms.ctx.db.execute('UPDATE rooms SET is_public = $1 WHERE room_id = $2', [
    visibility === 'public' ? 1 : 0,
    roomId,
  ]);
}

/** One entry of the public room directory (spec "PublishedRoomsChunk"). */
export interface PublicRoom {
  readonly room_id: string;
  readonly num_joined_members: number;
  readonly world_readable: boolean;
  readonly guest_can_join: boolean;
  readonly join_rule: string;
  readonly room_type?: string;
  readonly name?: string;
  readonly topic?: string;
  readonly canonical_alias?: string;
  readonly avatar_url?: string;
}

/**
 * The public directory, largest rooms first, filtered by `searchTerm` (name, topic, alias) and
 * `roomTypes` (`filter.room_types`: a room's `m.room.create` `type`, `null` for rooms without
 * one; all rooms when not given), paged by an offset token.
 */
export async function publicRooms(
  rooms: RoomService,
  options: {
    limit?: number | undefined;
    since?: string | undefined;
    searchTerm?: string | undefined;
    roomTypes?: ReadonlyArray<string | null> | undefined;
  },
): Promise<{
  chunk: PublicRoom[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate: number;
}> {
  const rows = await rooms.ctx.db.query<{ room_id: string; joined: number }>(
    `SELECT r.room_id, (SELECT COUNT(*) FROM room_memberships m
         WHERE m.room_id = r.room_id AND m.membership = 'join') AS joined
       FROM rooms r WHERE r.is_public = 1`,
  );
  const all: PublicRoom[] = [];
  for (const row of rows) {
    const text = async (type: string, key: string): Promise<string | undefined> => {
      const event = await rooms.currentStateEvent(row.room_id, type, '');
      const value = (event?.pdu['content'] as Record<string, unknown> | undefined)?.[key];
      return typeof value === 'string' ? value : undefined;
    };
    const name = await text('m.room.name', 'name');
    const topic = await text('m.room.topic', 'topic');
    const alias = await text('m.room.canonical_alias', 'alias');
    const avatar = await text('m.room.avatar', 'url');
    const roomType = await text('m.room.create', 'type');
    const entry: PublicRoom = {
      room_id: row.room_id,
      num_joined_members: Number(row.joined),
      world_readable:
        (await text('m.room.history_visibility', 'history_visibility')) === 'world_readable',
      guest_can_join: (await text('m.room.guest_access', 'guest_access')) === 'can_join',
      join_rule: (await text('m.room.join_rules', 'join_rule')) ?? 'invite',
      ...(name !== undefined ? { name } : {}),
      ...(topic !== undefined ? { topic } : {}),
      ...(alias !== undefined ? { canonical_alias: alias } : {}),
      ...(avatar !== undefined ? { avatar_url: avatar } : {}),
      ...(roomType !== undefined ? { room_type: roomType } : {}),
    };
    const term = options.searchTerm?.toLowerCase();
    if (
      term !== undefined &&
      term !== '' &&
      ![name, topic, alias].some((value) => value?.toLowerCase().includes(term))
    ) {
      continue;
    }
    if (options.roomTypes !== undefined && !options.roomTypes.includes(roomType ?? null)) continue;
    all.push(entry);
  }
  all.sort(
    (a, b) => b.num_joined_members - a.num_joined_members || a.room_id.localeCompare(b.room_id),
  );
  const offset = options.since === undefined ? 0 : parseOffset(options.since);
  const limit = options.limit ?? all.length;
  const chunk = all.slice(offset, offset + limit);
  // A `limit` of 0 returns no rooms and no `next_batch`: one pointing at the same offset would
  // page forever.
  return {
    chunk,
    ...(limit > 0 && offset + limit < all.length ? { next_batch: `o${offset + limit}` } : {}),
    ...(offset > 0 ? { prev_batch: `o${Math.max(0, offset - limit)}` } : {}),
    total_room_count_estimate: all.length,
  };
}

/**
 * A directory filter's `room_types` (client `POST /publicRooms` and federation `POST
 * /publicRooms`): a list of room types, `null` standing for rooms without one; `undefined` when
 * absent or `null` (all rooms). 400 M_BAD_JSON for anything else.
 */
export function parseRoomTypes(
  filter: Readonly<Record<string, unknown>>,
): Array<string | null> | undefined {
  const roomTypes = filter['room_types'];
  if (roomTypes === undefined || roomTypes === null) return undefined;
  if (!Array.isArray(roomTypes) || !roomTypes.every((t) => t === null || typeof t === 'string')) {
    throw MatrixError.badJson('filter.room_types must be a list of strings and nulls');
  }
  return roomTypes as Array<string | null>;
}

function parseOffset(token: string): number {
  const match = /^o(\d{1,9})$/.exec(token);
  if (match?.[1] === undefined) throw MatrixError.invalidParam('Invalid since token');
  return Number(match[1]);
}
