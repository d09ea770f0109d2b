/**
 * Spec "Events on Change of Profile Information"
 * (https://spec.matrix.org/v1.19/client-server-api/#events-on-change-of-profile-information):
 * "the server MUST send a new m.room.member event for each room the user is joined to, with the
 * updated displayname and avatar_url". Each room gets its own event through the rooms service's
 * pipeline (so auth rules apply); a room that refuses the event does not stop the others.
 */
import type { Log } from '../../log.ts';
import type { RoomService } from '../rooms/index.ts';
import type { Profile } from './service.ts';

/** Sends an updated `m.room.member` join event of `userId` in every room they are joined to. */
export async function updateMemberEvents(
  rooms: RoomService,
  log: Log,
  userId: string,
  profile: Profile,
): Promise<void> {
  for (const entry of await rooms.roomsForUser(userId)) {
    if (entry.membership !== 'join') continue;
    const current = await rooms.currentStateEvent(entry.roomId, 'm.room.member', userId);
    const previous = (current?.pdu['content'] ?? {}) as Record<string, unknown>;
    if (
      previous['displayname'] === profile.displayname &&
      previous['avatar_url'] === profile.avatar_url
    ) {
      continue;
    }
    const content: Record<string, unknown> = { ...previous, membership: 'join' };
    delete content['displayname'];
    delete content['avatar_url'];
    Object.assign(content, profile);
    try {
      await rooms.send({
        roomId: entry.roomId,
        type: 'm.room.member',
        stateKey: userId,
        sender: userId,
        content,
      });
    } catch (error) {
      log.warn('profile change not sent to room', {
        room_id: entry.roomId,
        error: (error as Error).message,
      });
    }
  }
}
