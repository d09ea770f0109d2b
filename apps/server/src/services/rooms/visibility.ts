/**
 * What a user may see of a room (spec client-server-api "History visibility"), evaluated with
 * the room's current `m.room.history_visibility` rather than per event (local rooms rarely
 * change it; the per-event rule comes with federation):
 * - `world_readable`: anyone sees everything;
 * - `shared` (the default): a member sees everything up to now, or up to their leaving;
 * - `invited` / `joined`: as `shared`, but nothing before the invite or join that began their
 *   current membership.
 * A user who was never a member of a non-world-readable room sees nothing (403).
 */
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import { currentStreamPosition } from '../core/stream.ts';
import type { RoomService } from './service.ts';

/** The stream window a viewer may see of a room: positions in (`floor`, `bound`]. */
export interface RoomView {
  /** The last stream position the viewer may see. */
  readonly bound: number;
  /** Events at or before this position are hidden (0: none are). */
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
  const joined = state === 'join';
  const bound = joined ? await currentStreamPosition(db) : (membership?.streamPosition ?? 0);
  if (visibility !== 'joined' && visibility !== 'invited') return { bound, floor: 0, joined };
  const floor = await membershipStart(db, roomId, userId, bound, visibility === 'invited');
  return { bound, floor, joined };
}

/**
 * The position just before the membership that is current at `bound` began: the earliest of
 * the consecutive `join` events (and, with `countInvite`, the `invite` before them) ending at
 * the user's last member event at or before `bound`.
 */
async function membershipStart(
  db: SqlExecutor,
  roomId: string,
  userId: string,
  bound: number,
  countInvite: boolean,
): Promise<number> {
  const rows = await db.query<{ stream_position: number; pdu: string }>(
    `SELECT stream_position, pdu FROM events
      WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2
        AND stream_position IS NOT NULL AND stream_position <= $3
      ORDER BY stream_position DESC`,
    [roomId, userId, bound],
  );
  const membershipAt = (i: number): unknown =>
    (JSON.parse(rows[i]?.pdu ?? '{}') as { content?: { membership?: unknown } }).content
      ?.membership;
  // A leave or ban ends the stint the viewer saw: start from the event before it.
  let i = rows.length > 0 && membershipAt(0) !== 'join' ? 1 : 0;
  let start: number | undefined;
  for (; i < rows.length; i++) {
    const membership = membershipAt(i);
    const position = Number(rows[i]?.stream_position);
    if (membership === 'join') {
      start = position;
      continue;
    }
    if (membership === 'invite' && countInvite) start = position;
    break;
  }
  return start === undefined ? bound : start - 1;
}
