/**
 * Whether a user may read a room at all, and up to where (spec client-server-api "History
 * visibility"): anyone may read a room that is `world_readable` now; otherwise only a user who is
 * or was a member, up to now or up to their leaving. Which events inside that window they see is
 * decided per event, by the visibility and their membership at each event
 * (event-visibility.ts). A user who was never a member of a non-world-readable room sees nothing
 * (403).
 */
import { MatrixError } from '@weft/transport';

import { currentStreamPosition } from '../core/stream.ts';
import { membershipHistory } from './room-store.ts';
import type { RoomService } from './service.ts';

/** The stream window a viewer may see of a room: positions in (`floor`, `bound`]. */
export interface RoomView {
  /** The last stream position the viewer may see. */
  readonly bound: number;
  /**
   * Events at or before this position are hidden; always 0 now that each event's own visibility
   * decides (event-visibility.ts), kept for the pagination calls that take it.
   */
  readonly floor: number;
  /** True when the viewer is joined now. */
  readonly joined: boolean;
}

/** The viewer's window in `roomId`; 403 M_FORBIDDEN when they may see nothing. */
export async function roomView(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<RoomView> {
  const db = rooms.ctx.db;
  const visibilityEvent = await rooms.currentStateEvent(roomId, 'm.room.history_visibility', '');
  const content = visibilityEvent?.pdu['content'] as Record<string, unknown> | undefined;
  const visibility = content?.['history_visibility'] ?? 'shared';
  if (visibility === 'world_readable') {
    const membership = await rooms.membership(roomId, userId);
    return {
      bound: await currentStreamPosition(db),
      floor: 0,
      joined: membership?.membership === 'join',
    };
  }
  const membership = await rooms.membership(roomId, userId);
  const state = membership?.membership;
  if (state !== 'join' && state !== 'leave' && state !== 'ban') {
    throw MatrixError.forbidden('You are not a member of this room');
  }
  // Spec "GET /rooms/{roomId}/state" (and /members, …) 403: "the user is not a member of the
  // room and weren't previously a member": a leave or ban only keeps the room readable up to it
  // when the user was joined before — not after a rejected invite, a withdrawn knock or a ban
  // that came first.
  if (
    state !== 'join' &&
    !(await membershipHistory(db, userId, roomId)).some((entry) => entry.membership === 'join')
  ) {
    throw MatrixError.forbidden('You are not a member of this room');
  }
  const joined = state === 'join';
  const bound = joined ? await currentStreamPosition(db) : (membership?.streamPosition ?? 0);
  return { bound, floor: 0, joined };
}
