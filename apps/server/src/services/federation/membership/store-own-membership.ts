/**
 * Storing a local user's own membership event that was made through another server (a remote
 * knock, a rejected remote invite): this server is not in the room, so the event is an outlier
 * (no state group) that still takes a stream position, so /sync shows the change.
 */
import type { SqlExecutor } from '../../../storage/database.ts';
import { nextStreamPosition } from '../../core/stream.ts';

/** Inserts the signed membership `pdu` of `userId` as an outlier; returns its stream position. */
export async function insertOwnMembershipOutlier(
  tx: SqlExecutor,
  roomId: string,
  userId: string,
  eventId: string,
  pdu: Record<string, unknown>,
): Promise<number> {
  const position = await nextStreamPosition(tx);
  await tx.execute(
    `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
       origin_server_ts, pdu, unsigned, state_group, outlier)
     VALUES ($1, $2, $3, $4, 'm.room.member', $5, $5, $6, $7, NULL, NULL, 1)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      eventId,
      roomId,
      position,
      Number(pdu['depth']),
      userId,
      Number(pdu['origin_server_ts']),
      JSON.stringify(pdu),
    ],
  );
  return position;
}
