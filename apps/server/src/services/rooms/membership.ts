/**
 * Membership changes by local users (spec client-server-api "Room membership"): join, invite,
 * leave, kick, ban, unban and forget. The
 * authorization rules (@weft/dag) decide what is allowed; this file only shapes the events.
 */
import { MatrixError } from '@weft/transport';

import { cleanProfile } from './create-room.ts';
import { loadRoom, membershipOf } from './room-store.ts';
import type { RoomService } from './service.ts';

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
    await send({
      roomId,
      type: 'm.room.member',
      stateKey: userId,
      sender: userId,
      content: { membership: 'join', ...cleanProfile(profile), ...withReason(reason) },
    });
    return roomId;
  });
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
    /** For unban: only act when the target is banned. */
    expect?: 'ban';
  },
): Promise<void> {
  await rooms.write(async (send, tx) => {
    const room = await loadRoom(tx, options.roomId);
    if (room === undefined) throw MatrixError.forbidden('Unknown room or not a member');
    const current = await membershipOf(tx, options.roomId, options.target);
    if (options.expect === 'ban' && current?.membership !== 'ban') {
      throw MatrixError.forbidden('The user is not banned');
    }
    if (options.membership === 'invite' && current?.membership === 'invite') return;
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

/** Spec "POST /rooms/{roomId}/forget": hides a room the user has left from their lists. */
export async function forgetRoom(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<void> {
  const current = await membershipOf(rooms.ctx.db, roomId, userId);
  if (current === undefined) throw MatrixError.notFound('Not a member of this room');
  if (
    current.membership === 'join' ||
    current.membership === 'invite' ||
    current.membership === 'knock'
  ) {
    throw new MatrixError(400, 'M_UNKNOWN', 'Leave the room before forgetting it');
  }
  await rooms.ctx.db.execute(
    'UPDATE room_memberships SET forgotten = 1 WHERE room_id = $1 AND user_id = $2',
    [roomId, userId],
  );
}

function withReason(reason: string | undefined): Record<string, string> {
  return reason === undefined ? {} : { reason };
}
