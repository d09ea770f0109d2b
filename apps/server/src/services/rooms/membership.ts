/**
 * Membership changes by local users (spec client-server-api "Room membership"): join, invite,
 * leave, kick, ban, unban and forget. The
 * authorization rules (@weft/dag) decide what is allowed; this file only shapes the events.
 */
import { type DagEvent, powerLevelOf, type RoomVersionRules, stateKeyOf } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import { dagStateOf } from './auth.ts';
import { buildEvent } from './create-event.ts';
import { cleanProfile } from './create-room.ts';
import {
  currentStateEventIds,
  loadRoom,
  localJoinedMembers,
  membershipOf,
  type RoomRow,
} from './room-store.ts';
import { type RoomService, rulesOf } from './service.ts';

/** Joins `userId` to a local room; returns the room ID. Joining again is a no-op. */
export async function joinRoom(
  rooms: RoomService,
  roomId: string,
  userId: string,
  reason?: string,
): Promise<string> {
  return rooms.write(async (send, tx) => {
    const room = await loadRoom(tx, roomId);
    // Without federation a room this server has never seen cannot be joined.
    if (room === undefined) throw MatrixError.notFound('No known server can join this room');
    const current = await membershipOf(tx, roomId, userId);
    if (current?.membership === 'join') return roomId;
    const profile = await rooms.profileOf(tx, userId);
    const authorisedVia =
      current?.membership === 'invite'
        ? undefined
        : await restrictedJoinAuthoriser(rooms, tx, room, userId);
    await send({
      roomId,
      type: 'm.room.member',
      stateKey: userId,
      sender: userId,
      content: {
        membership: 'join',
        ...cleanProfile(profile),
        ...withReason(reason),
        ...(authorisedVia !== undefined ? { join_authorised_via_users_server: authorisedVia } : {}),
      },
    });
    return roomId;
  });
}

/**
 * Spec client-server-api "Restricted rooms" and the room version 8+ authorization rules (rule
 * 5.3.5, `restricted`; v10+ also `knock_restricted`): a user who is not invited may join when
 * they are joined to a room of the join rule's `allow` list (`m.room_membership`); the join then
 * names, in `join_authorised_via_users_server`, a user of this server joined to the room with
 * the power to invite. Returns that user, `undefined` when the join rule is not restricted, and
 * throws 403 M_FORBIDDEN when the user meets no condition or no local user can authorise it.
 */
async function restrictedJoinAuthoriser(
  rooms: RoomService,
  tx: SqlExecutor,
  room: RoomRow,
  userId: string,
): Promise<string | undefined> {
  const check = await checkRestrictedJoin(rooms, tx, room, userId);
  switch (check.kind) {
    case 'unrestricted':
      return undefined;
    case 'authorised':
      return check.via;
    case 'not-allowed':
      // Without an allowed membership a restricted room is joined by invite only (and a
      // knock_restricted one also by knocking).
      throw MatrixError.forbidden(
        'You are not invited to this room, nor a member of an allowed room',
      );
    case 'no-authoriser':
      throw MatrixError.forbidden('No user of this server can authorise a join to this room');
  }
}

/**
 * What this server can tell of `userId`'s join to a restricted room (see
 * {@link restrictedJoinAuthoriser}; federation's `make_join` and `send_join` map it to their
 * own errors):
 * - `unrestricted`: the join rule is neither `restricted` nor `knock_restricted` (in a room
 *   version that has it);
 * - `authorised`: the user is joined to an allowed room, and `via` is a local user joined to
 *   the room with the power to invite;
 * - `not-allowed`: the user is joined to no allowed room as far as this server knows;
 *   `participates` tells whether this server is in any allowed room (if not, it cannot tell);
 * - `no-authoriser`: the user is allowed, but no local user can invite.
 */
export type RestrictedJoinCheck =
  | { readonly kind: 'unrestricted' }
  | { readonly kind: 'authorised'; readonly via: string }
  | { readonly kind: 'not-allowed'; readonly participates: boolean }
  | { readonly kind: 'no-authoriser' };

/** Judges `userId`'s join to `room` by its join rule's `allow` list (see above). */
export async function checkRestrictedJoin(
  rooms: RoomService,
  tx: SqlExecutor,
  room: RoomRow,
  userId: string,
): Promise<RestrictedJoinCheck> {
  const roomId = room.roomId;
  const serverName = rooms.ctx.config.serverName;
  const rules = rulesOf(room.roomVersion);
  const state = await stateOf(rooms, tx, roomId, [
    ['m.room.create', ''],
    ['m.room.join_rules', ''],
    ['m.room.power_levels', ''],
  ]);
  const joinRules = state.get(stateKeyOf('m.room.join_rules', ''))?.content;
  const joinRule = joinRules?.['join_rule'];
  if (!isRestricted(joinRule, rules)) return { kind: 'unrestricted' };
  const allow = Array.isArray(joinRules?.['allow']) ? (joinRules['allow'] as unknown[]) : [];
  let allowed = false;
  let participates = false;
  for (const condition of allow) {
    if (typeof condition !== 'object' || condition === null) continue;
    const { type, room_id: allowedRoom } = condition as Record<string, unknown>;
    if (type !== 'm.room_membership' || typeof allowedRoom !== 'string') continue;
    if ((await membershipOf(tx, allowedRoom, userId))?.membership === 'join') {
      allowed = true;
      break;
    }
    if (!participates) {
      participates = (await localJoinedMembers(tx, allowedRoom, serverName)).length > 0;
    }
  }
  if (!allowed) return { kind: 'not-allowed', participates };
  const candidates = await localJoinedMembers(tx, roomId, serverName);
  const members = await stateOf(
    rooms,
    tx,
    roomId,
    candidates.map((candidate) => ['m.room.member', candidate] as const),
  );
  for (const [key, event] of members) state.set(key, event);
  const inviteLevel = state.get(stateKeyOf('m.room.power_levels', ''))?.content['invite'];
  const needed = typeof inviteLevel === 'number' ? inviteLevel : 0;
  const authoriser = candidates
    .sort()
    .find((candidate) => powerLevelOf(candidate, state, rules) >= needed);
  if (authoriser === undefined) return { kind: 'no-authoriser' };
  return { kind: 'authorised', via: authoriser };
}

function isRestricted(joinRule: unknown, rules: RoomVersionRules): boolean {
  return (
    (rules.authorization.restrictedJoinRule && joinRule === 'restricted') ||
    (rules.authorization.knockRestrictedJoinRule && joinRule === 'knock_restricted')
  );
}

/** The current state events `keys` of `roomId`, read through `tx`, as a DAG state map. */
async function stateOf(
  rooms: RoomService,
  tx: SqlExecutor,
  roomId: string,
  keys: ReadonlyArray<readonly [string, string]>,
): Promise<Map<string, DagEvent>> {
  return dagStateOf(tx, rooms.events, await currentStateEventIds(tx, roomId, keys));
}

/** Sets `target`'s membership as `sender` (invite, leave/kick, ban, unban). */
export async function changeMembership(
  rooms: RoomService,
  options: {
    roomId: string;
    sender: string;
    target: string;
    membership: 'invite' | 'leave' | 'ban';
    reason?: string | undefined;
    isDirect?: boolean | undefined;
    /**
     * For unban: only act when the target is banned. For kick: only when the target is in the
     * room (joined, invited or knocking).
     */
    expect?: 'ban' | 'present';
  },
): Promise<void> {
  await rooms.write(async (send, tx) => {
    const room = await loadRoom(tx, options.roomId);
    if (room === undefined) throw MatrixError.forbidden('Unknown room or not a member');
    const current = await membershipOf(tx, options.roomId, options.target);
    if (options.expect === 'ban' && current?.membership !== 'ban') {
      throw MatrixError.forbidden('The user is not banned');
    }
    // Spec "POST /rooms/{roomId}/kick" 403: "The kickee is not currently in the room" — a kick
    // neither records a leave for a stranger nor lifts a ban.
    if (
      options.expect === 'present' &&
      current?.membership !== 'join' &&
      current?.membership !== 'invite' &&
      current?.membership !== 'knock'
    ) {
      throw MatrixError.forbidden('The user is not currently in the room');
    }
    if (options.membership === 'invite' && current?.membership === 'invite') {
      // Already invited: nothing to send, but only a sender the authorization rules would let
      // invite (rule 5.4: joined, with the invite level) gets the 200 of "POST
      // /rooms/{roomId}/invite"; anyone else gets its 403.
      await buildEvent(
        tx,
        rooms.ctx,
        rooms.events,
        room,
        rulesOf(room.roomVersion),
        {
          roomId: options.roomId,
          type: 'm.room.member',
          stateKey: options.target,
          sender: options.sender,
          content: { membership: 'invite' },
        },
        rooms.currentStateIds,
      );
      return;
    }
    const content: Record<string, unknown> = {
      membership: options.membership,
      ...withReason(options.reason),
    };
    if (options.membership === 'invite') {
      Object.assign(content, cleanProfile(await rooms.profileOf(tx, options.target)));
      if (options.isDirect === true) content['is_direct'] = true;
    }
    await send({
      roomId: options.roomId,
      type: 'm.room.member',
      stateKey: options.target,
      sender: options.sender,
      content,
    });
  });
}

/**
 * Spec "POST /rooms/{roomId}/forget": hides a room the user has left from their lists. The check
 * (not joined, invited or knocking) is part of the UPDATE itself: a join committing between a
 * separate read and the write would otherwise leave the re-joined room marked forgotten. On
 * PostgreSQL the UPDATE re-evaluates its WHERE against a row a concurrent writer just committed.
 */
export async function forgetRoom(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<void> {
  await rooms.ctx.db.transaction(async (tx) => {
    const forgotten = await tx.execute(
      `UPDATE room_memberships SET forgotten = 1
        WHERE room_id = $1 AND user_id = $2 AND membership NOT IN ('join', 'invite', 'knock')`,
      [roomId, userId],
    );
    if (forgotten > 0) return;
    const current = await membershipOf(tx, roomId, userId);
    if (current === undefined) throw MatrixError.notFound('Not a member of this room');
    throw new MatrixError(400, 'M_UNKNOWN', 'Leave the room before forgetting it');
  });
}

function withReason(reason: string | undefined): Record<string, string> {
  return reason === undefined ? {} : { reason };
}
