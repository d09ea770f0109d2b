/**
 * Whether another server may read a room's events through `/event`, `/state`, `/state_ids`,
 * `/backfill` and `/get_missing_events` (spec server-server-api "Retrieving events": the server
 * must be in the room; client-server-api "History visibility" for servers). Weft answers servers
 * that have, or had, a member in the room — enough for joins, gap filling and catch-up, while a
 * stranger learns nothing. Finer per-event history visibility is not applied yet.
 */
import type { Services } from '../index.ts';
import { serverHasMember } from '../rooms/room-store.ts';

/** Whether `serverName` may see events of `roomId`: a user of it has any membership there. */
export function serverMaySee(
  services: Services,
  roomId: string,
  serverName: string,
): Promise<boolean> {
  return serverHasMember(services.ctx.db, roomId, serverName);
}
