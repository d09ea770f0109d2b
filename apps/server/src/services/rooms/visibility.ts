/**
 * What a user may see of a room (spec client-server-api "History visibility", simplified to
 * what local rooms need): a joined member sees everything; a member who left or was banned sees
 * up to their leaving; anyone sees a `world_readable` room; nobody else sees anything.
 */
import { MatrixError } from '@weft/transport';

import { currentStreamPosition } from '../core/stream.ts';
import type { RoomService } from './service.ts';

/** Where a viewer's view of a room ends. */
export interface RoomView {
  /** The last stream position the viewer may see. */
  readonly bound: number;
  /** True when the viewer is joined now. */
  readonly joined: boolean;
}

/** The viewer's bound in `roomId`; 403 M_FORBIDDEN when they may see nothing. */
export async function roomView(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<RoomView> {
  const membership = await rooms.membership(roomId, userId);
  if (membership?.membership === 'join') {
    return { bound: await currentStreamPosition(rooms.ctx.db), joined: true };
  }
  if (membership?.membership === 'leave' || membership?.membership === 'ban') {
    // A user who never joined (a rejected invite) sees nothing beyond what they saw as invitee.
    return { bound: membership.streamPosition, joined: false };
  }
  const visibility = await rooms.currentStateEvent(roomId, 'm.room.history_visibility', '');
  const content = visibility?.pdu['content'] as Record<string, unknown> | undefined;
  if (content?.['history_visibility'] === 'world_readable') {
    return { bound: await currentStreamPosition(rooms.ctx.db), joined: false };
  }
  throw MatrixError.forbidden('You are not a member of this room');
}
