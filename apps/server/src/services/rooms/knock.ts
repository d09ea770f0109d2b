/**
 * Knocking (client-server-api "Knocking on rooms", room versions 7 and later): a user asks to be
 * let into a room whose join rule is `knock` (or `knock_restricted` from room version 10) by
 * sending their own `m.room.member` event with membership `knock`. Whether that is allowed is the
 * authorization rules' call (@weft/dag); a member with the power to invite then lets them in by
 * inviting them, or turns them away by kicking.
 */
import { MatrixError } from '@weft/transport';

import { cleanProfile } from './create-room.ts';
import { loadRoom, membershipOf } from './room-store.ts';
import type { RoomService } from './service.ts';

/** Knocks on a room this server is in as `userId`; returns the room ID. */
export async function knockRoom(
  rooms: RoomService,
  roomId: string,
  userId: string,
  reason?: string,
): Promise<string> {
  return rooms.write(async (send, tx) => {
    const room = await loadRoom(tx, roomId);
    // A room this server is not in is knocked on through its servers (api/client/knock.ts →
    // federation make_knock/send_knock); here it must be known.
    if (room === undefined) throw MatrixError.notFound('No known server can knock on this room');
    const current = await membershipOf(tx, roomId, userId);
    if (current?.membership === 'knock') return roomId;
    if (current?.membership === 'join' || current?.membership === 'invite') {
      throw MatrixError.forbidden(
        `You are already ${current.membership === 'join' ? 'joined to' : 'invited to'} this room`,
      );
    }
    const profile = await rooms.profileOf(tx, userId);
    await send({
      roomId,
      type: 'm.room.member',
      stateKey: userId,
      sender: userId,
      content: {
        membership: 'knock',
        ...cleanProfile(profile),
        ...(reason === undefined ? {} : { reason }),
      },
    });
    return roomId;
  });
}
