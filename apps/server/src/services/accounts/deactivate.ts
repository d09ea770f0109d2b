/**
 * Account deactivation (client-server-api "Account deactivation",
 * https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3accountdeactivate): the
 * user leaves (or rejects) every room, their profile is cleared, then the account is closed —
 * no password, no devices, no tokens — while the user ID stays reserved forever. With `erase` the
 * user's non-event data is deleted as well (AccountService.deactivate), and their events are
 * served redacted to those who join their rooms afterwards (rooms/erased-senders.ts). The leaves
 * come first, so the erasure's stream position is after them.
 */
import type { Log } from '../../log.ts';
import type { ProfileService } from '../profile/service.ts';
import { changeMembership } from '../rooms/membership.ts';
import type { RoomService } from '../rooms/service.ts';
import type { AccountService } from './service.ts';

export async function deactivateAccount(
  services: {
    readonly accounts: AccountService;
    readonly rooms: RoomService;
    readonly profile: ProfileService;
  },
  log: Log,
  userId: string,
  options: { erase?: boolean } = {},
): Promise<void> {
  for (const entry of await services.rooms.roomsForUser(userId)) {
    if (entry.membership === 'leave' || entry.membership === 'ban') continue;
    try {
      await changeMembership(services.rooms, {
        roomId: entry.roomId,
        sender: userId,
        target: userId,
        membership: 'leave',
      });
    } catch (error) {
      // One room refusing the leave must not keep the account open.
      log.warn('deactivation: could not leave room', {
        room_id: entry.roomId,
        error: (error as Error).message,
      });
    }
  }
  await services.profile.set(userId, 'displayname', null);
  await services.profile.set(userId, 'avatar_url', null);
  await services.accounts.deactivate(userId, options);
}
