/**
 * Room summaries (client-server-api "Spaces" and "Room summary",
 * https://spec.matrix.org/v1.19/client-server-api/#spaces, definitions/room_summary.yaml) and
 * who may preview a room: the fields a space hierarchy, `GET /room_summary` and the federation
 * `GET /hierarchy` give of a room this server knows, read from its current state.
 *
 * A room is shown (space_hierarchy.yaml, "rooms") when the viewer is joined or invited, when
 * anyone may join it (`public`), knock on it (`knock`, `knock_restricted`: every supported room
 * version, 10 and up, has both) or read it (`world_readable`), or, for a `restricted` room, when
 * the viewer is joined to one of the rooms its join rules allow. For another server (federation
 * `GET /hierarchy`, as Synapse decides): one of its users is joined or invited, or joined to one
 * of the allowed rooms.
 */
import { redactEvent } from '@weft/signing';

import { isObject } from '../../json-object.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { joinedMemberCount, serverHasMember } from '../rooms/room-store.ts';
import type { RoomService } from '../rooms/service.ts';
import type { StoredEvent } from '../rooms/types.ts';

/** Spec definitions/room_summary.yaml (PublishedRoomsChunk and the fields it adds). */
export interface RoomSummary {
  readonly room_id: string;
  readonly num_joined_members: number;
  readonly world_readable: boolean;
  readonly guest_can_join: boolean;
  readonly join_rule: string;
  readonly name?: string;
  readonly topic?: string;
  readonly canonical_alias?: string;
  readonly avatar_url?: string;
  readonly room_type?: string;
  readonly allowed_room_ids?: string[];
  readonly encryption?: string;
  readonly room_version?: string;
}

/** A stripped `m.space.child` event with its `origin_server_ts` (space_hierarchy.yaml). */
export interface ChildState {
  readonly type: 'm.space.child';
  readonly state_key: string;
  readonly content: Record<string, unknown>;
  readonly sender: string;
  readonly origin_server_ts: number;
}

/** A room's summary and what the preview rules need of its state. */
export interface SummarisedRoom {
  readonly summary: RoomSummary;
  /** The rooms a `restricted`/`knock_restricted` join rule allows (empty otherwise). */
  readonly allowedRoomIds: readonly string[];
}

const SUMMARY_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.topic',
  'm.room.canonical_alias',
  'm.room.avatar',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.encryption',
] as const;

/** The content of a stored event as clients see it: empty of its keys once redacted. */
export function contentOf(event: StoredEvent): Record<string, unknown> {
  const pdu =
    event.redactedBecause === undefined ? event.pdu : redactEvent(event.pdu, event.roomVersion);
  const content = pdu['content'];
  return isObject(content) ? content : {};
}

function stringField(content: Record<string, unknown> | undefined, key: string) {
  const value = content?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** The room IDs of a join rule's `allow` list (`m.room_membership` conditions). */
function allowedRoomsOf(content: Record<string, unknown> | undefined): string[] {
  const joinRule = content?.['join_rule'];
  if (joinRule !== 'restricted' && joinRule !== 'knock_restricted') return [];
  const allow = content?.['allow'];
  if (!Array.isArray(allow)) return [];
  return allow.flatMap((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const condition = entry as Record<string, unknown>;
    const roomId = condition['room_id'];
    return condition['type'] === 'm.room_membership' &&
      typeof roomId === 'string' &&
      roomId.startsWith('!')
      ? [roomId]
      : [];
  });
}

/**
 * The summary of a room this server has state for, or `undefined` for a room it does not know
 * (no current `m.room.create`).
 */
export async function summariseRoom(
  rooms: RoomService,
  roomId: string,
): Promise<SummarisedRoom | undefined> {
  const db = rooms.ctx.db;
  const rows = await db.query<{ type: string; event_id: string }>(
    `SELECT type, event_id FROM room_current_state
      WHERE room_id = $1 AND state_key = '' AND type IN (${SUMMARY_TYPES.map((_, i) => `$${i + 2}`).join(', ')})`,
    [roomId, ...SUMMARY_TYPES],
  );
  const events = await rooms.getEvents(rows.map((row) => row.event_id));
  const contents = new Map<string, Record<string, unknown>>();
  let version: string | undefined;
  for (const row of rows) {
    const event = events.get(row.event_id);
    if (event === undefined) continue;
    contents.set(row.type, contentOf(event));
    version = event.roomVersion;
  }
  const create = contents.get('m.room.create');
  if (create === undefined) return undefined;
  const joined = await joinedMemberCount(db, roomId);
  const joinRules = contents.get('m.room.join_rules');
  const allowedRoomIds = allowedRoomsOf(joinRules);
  const name = stringField(contents.get('m.room.name'), 'name');
  const topic = stringField(contents.get('m.room.topic'), 'topic');
  const alias = stringField(contents.get('m.room.canonical_alias'), 'alias');
  const avatar = stringField(contents.get('m.room.avatar'), 'url');
  const roomType = stringField(create, 'type');
  const encryption = stringField(contents.get('m.room.encryption'), 'algorithm');
  const summary: RoomSummary = {
    room_id: roomId,
    num_joined_members: joined,
    world_readable:
      stringField(contents.get('m.room.history_visibility'), 'history_visibility') ===
      'world_readable',
    guest_can_join: stringField(contents.get('m.room.guest_access'), 'guest_access') === 'can_join',
    // Spec m.room.join_rules: a room without one cannot be joined without an invite.
    join_rule: stringField(joinRules, 'join_rule') ?? 'invite',
    ...(name !== undefined ? { name } : {}),
    ...(topic !== undefined ? { topic } : {}),
    // Only values of the shapes the schema gives them (sigil grammar, mxc URI, known algorithm).
    ...(alias !== undefined && /^#[^:\s]+:\S+$/.test(alias) ? { canonical_alias: alias } : {}),
    ...(avatar?.startsWith('mxc://') ? { avatar_url: avatar } : {}),
    ...(roomType !== undefined ? { room_type: roomType } : {}),
    ...(allowedRoomIds.length > 0 ? { allowed_room_ids: allowedRoomIds } : {}),
    ...(encryption === 'm.megolm.v1.aes-sha2' ? { encryption } : {}),
    ...(version !== undefined ? { room_version: version } : {}),
  };
  return { summary, allowedRoomIds };
}

/** Whether anyone may see the room: it can be joined or knocked on by anyone, or read. */
function openToAll(summary: RoomSummary): boolean {
  return (
    summary.world_readable ||
    summary.join_rule === 'public' ||
    summary.join_rule === 'knock' ||
    summary.join_rule === 'knock_restricted'
  );
}

/** Whether `userId` (or an anonymous viewer, `undefined`) may preview the room. */
export async function userMayPreview(
  db: SqlExecutor,
  room: SummarisedRoom,
  userId: string | undefined,
): Promise<boolean> {
  if (openToAll(room.summary)) return true;
  if (userId === undefined) return false;
  const own = await db.queryOne<{ membership: string }>(
    'SELECT membership FROM room_memberships WHERE room_id = $1 AND user_id = $2',
    [room.summary.room_id, userId],
  );
  if (own?.membership === 'join' || own?.membership === 'invite') return true;
  for (const allowed of room.allowedRoomIds) {
    const row = await db.queryOne<{ membership: string }>(
      'SELECT membership FROM room_memberships WHERE room_id = $1 AND user_id = $2',
      [allowed, userId],
    );
    if (row?.membership === 'join') return true;
  }
  return false;
}

const JOINED_OR_INVITED: readonly string[] = ['join', 'invite'];
const JOINED: readonly string[] = ['join'];

/**
 * Whether another server may see the room (federation `GET /hierarchy`): open to all, or a user
 * of it joined or invited there, or joined to a room its join rule allows.
 */
export async function serverMayPreview(
  db: SqlExecutor,
  room: SummarisedRoom,
  serverName: string,
): Promise<boolean> {
  if (openToAll(room.summary)) return true;
  if (await serverHasMember(db, room.summary.room_id, serverName, JOINED_OR_INVITED)) return true;
  for (const allowed of room.allowedRoomIds) {
    if (await serverHasMember(db, allowed, serverName, JOINED)) return true;
  }
  return false;
}

/** Spec m.space.child `order`: at most 50 characters from U+0020 to U+007E. */
function validOrder(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 50 && /^[\x20-\x7e]*$/.test(value);
}

/**
 * The room's current `m.space.child` events that name a child (a `via` with at least one server;
 * a redacted or emptied one removes the child), stripped, in the spec's order ("Ordering of
 * children within a space"): by `order` where valid (those without one last), then by the
 * event's `origin_server_ts`, then by room ID. `suggestedOnly` keeps `suggested: true` ones.
 */
export async function childrenOf(
  rooms: RoomService,
  roomId: string,
  suggestedOnly: boolean,
): Promise<ChildState[]> {
  const rows = await rooms.ctx.db.query<{ event_id: string }>(
    `SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = 'm.space.child'`,
    [roomId],
  );
  const events = await rooms.getEvents(rows.map((row) => row.event_id));
  const children: ChildState[] = [];
  for (const event of events.values()) {
    const content = contentOf(event);
    const via = content['via'];
    if (!Array.isArray(via) || via.length === 0 || !via.every((v) => typeof v === 'string')) {
      continue;
    }
    const childId = event.stateKey ?? '';
    if (!/^![^\s]+$/.test(childId)) continue;
    if (suggestedOnly && content['suggested'] !== true) continue;
    children.push({
      type: 'm.space.child',
      state_key: childId,
      content,
      sender: event.sender,
      origin_server_ts: event.originServerTs,
    });
  }
  return sortChildren(children);
}

/** Sorts child events in the spec's order ("Ordering of children within a space"). */
export function sortChildren(children: ChildState[]): ChildState[] {
  const orderOf = (child: ChildState) => {
    const order = child.content['order'];
    return validOrder(order) ? order : undefined;
  };
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return children.sort((a, b) => {
    const orderA = orderOf(a);
    const orderB = orderOf(b);
    if (orderA !== undefined && orderB !== undefined && orderA !== orderB) {
      return compare(orderA, orderB);
    }
    if (orderA !== undefined && orderB === undefined) return -1;
    if (orderA === undefined && orderB !== undefined) return 1;
    return a.origin_server_ts - b.origin_server_ts || compare(a.state_key, b.state_key);
  });
}

/**
 * A room summary another server sent (federation `GET /hierarchy`), kept only when it has the
 * required fields, with only the known fields of the right shapes; an absent `join_rule` is
 * `public`, as definitions/public_rooms_chunk.yaml says.
 */
export function summaryFromRemote(value: unknown): RoomSummary | undefined {
  if (!isObject(value)) return undefined;
  const roomId = value['room_id'];
  const members = value['num_joined_members'];
  if (typeof roomId !== 'string' || !/^![^\s]+$/.test(roomId)) return undefined;
  if (!Number.isSafeInteger(members) || (members as number) < 0) return undefined;
  if (
    typeof value['world_readable'] !== 'boolean' ||
    typeof value['guest_can_join'] !== 'boolean'
  ) {
    return undefined;
  }
  const text = (key: string) => {
    const field = value[key];
    return typeof field === 'string' ? field : undefined;
  };
  const alias = text('canonical_alias');
  const avatar = text('avatar_url');
  const encryption = text('encryption');
  const allowed = value['allowed_room_ids'];
  const allowedRoomIds = Array.isArray(allowed)
    ? allowed.filter((id): id is string => typeof id === 'string' && id.startsWith('!'))
    : [];
  const optional: Record<string, string | undefined> = {
    name: text('name'),
    topic: text('topic'),
    canonical_alias: alias !== undefined && /^#[^:\s]+:\S+$/.test(alias) ? alias : undefined,
    avatar_url: avatar?.startsWith('mxc://') ? avatar : undefined,
    room_type: text('room_type'),
    encryption: encryption === 'm.megolm.v1.aes-sha2' ? encryption : undefined,
    room_version: text('room_version'),
  };
  return {
    room_id: roomId,
    num_joined_members: members as number,
    world_readable: value['world_readable'] as boolean,
    guest_can_join: value['guest_can_join'] as boolean,
    join_rule: text('join_rule') ?? 'public',
    ...Object.fromEntries(Object.entries(optional).filter(([, field]) => field !== undefined)),
    ...(allowedRoomIds.length > 0 ? { allowed_room_ids: allowedRoomIds } : {}),
  };
}

/** A stripped `m.space.child` event another server sent, if well formed and naming a child. */
export function childFromRemote(value: unknown): ChildState | undefined {
  if (!isObject(value) || value['type'] !== 'm.space.child') return undefined;
  const stateKey = value['state_key'];
  const content = value['content'];
  const sender = value['sender'];
  const ts = value['origin_server_ts'];
  if (typeof stateKey !== 'string' || !/^![^\s]+$/.test(stateKey)) return undefined;
  if (!isObject(content) || typeof sender !== 'string' || !Number.isSafeInteger(ts)) {
    return undefined;
  }
  const via = content['via'];
  if (!Array.isArray(via) || via.length === 0 || !via.every((v) => typeof v === 'string')) {
    return undefined;
  }
  return {
    type: 'm.space.child',
    state_key: stateKey,
    content,
    sender,
    origin_server_ts: ts as number,
  };
}
