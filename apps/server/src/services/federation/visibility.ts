/**
 * Whether another server may read a room's events through `/event`, `/state`, `/state_ids`,
 * `/backfill` and `/get_missing_events` (spec server-server-api "Retrieving events": the server
 * must be in the room; client-server-api "History visibility" for servers). Weft answers servers
 * that have, or had, a member in the room — enough for joins, gap filling and catch-up, while a
 * stranger learns nothing. Finer per-event history visibility is not applied yet.
 */
import type { Services } from '../index.ts';
import { isLocalUser } from '../rooms/local-user.ts';

/** Whether `serverName` may see events of `roomId`. */
export async function serverMaySee(
  services: Services,
  roomId: string,
  serverName: string,
): Promise<boolean> {
  const rows = await services.ctx.db.query<{ user_id: string }>(
    'SELECT user_id FROM room_memberships WHERE room_id = $1',
    [roomId],
  );
  return rows.some((row) => isLocalUser(row.user_id, serverName));
}
