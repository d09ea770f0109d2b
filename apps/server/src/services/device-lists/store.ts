/**
 * SQL of the device-list service: `device_list_changes`, `device_list_outbound_streams`, plus
 * read-only membership queries.
 */
import { parseAnyJson } from '@weft/canonical-json';
import type { SqlExecutor } from '../../storage/index.ts';

/** Records that `userId`'s device list changed at `position`. */
export async function insertDeviceListChange(
  tx: SqlExecutor,
  userId: string,
  position: number,
): Promise<void> {
  await tx.execute(
    'INSERT INTO device_list_changes (user_id, stream_position) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [userId, position],
  );
}

/**
 * Takes the next federation device-list stream ID of a local user (1, 2, …; see migration
 * 0118) and returns it.
 */
export async function nextUserStreamId(tx: SqlExecutor, userId: string): Promise<number> {
  const row = await tx.queryOne<{ stream_id: number | string }>(
    `INSERT INTO device_list_outbound_streams (user_id, stream_id) VALUES ($1, 1)
     ON CONFLICT (user_id)
     DO UPDATE SET stream_id = device_list_outbound_streams.stream_id + 1
     RETURNING stream_id`,
    [userId],
  );
  return Number(row?.stream_id ?? 1);
}

/** A local user's current federation device-list stream ID (0 before any change). */
export async function userStreamId(db: SqlExecutor, userId: string): Promise<number> {
  const row = await db.queryOne<{ stream_id: number | string }>(
    'SELECT stream_id FROM device_list_outbound_streams WHERE user_id = $1',
    [userId],
  );
  return Number(row?.stream_id ?? 0);
}

/** Users whose device list changed at a position in (`from`, `to`]. */
export async function usersChangedBetween(
  db: SqlExecutor,
  from: number,
  to: number,
): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    `SELECT DISTINCT user_id FROM device_list_changes
      WHERE stream_position > $1 AND stream_position <= $2`,
    [from, to],
  );
  return rows.map((row) => row.user_id);
}

/** One membership change in a room: `target`'s membership became `membership`. */
export interface MemberChangeRow {
  readonly roomId: string;
  readonly target: string;
  readonly membership: string;
}

/**
 * Every membership event with a position in (`from`, `to`], in order (reads the rooms service's
 * tables; read-only).
 */
export async function memberChangesBetween(
  db: SqlExecutor,
  from: number,
  to: number,
): Promise<MemberChangeRow[]> {
  const rows = await db.query<{ room_id: string; state_key: string; pdu: string }>(
    `SELECT e.room_id, e.state_key, e.pdu FROM events e
      WHERE e.stream_position > $1 AND e.stream_position <= $2 AND e.type = 'm.room.member'
      ORDER BY e.stream_position`,
    [from, to],
  );
  return rows.map((row) => {
    const content = (parseAnyJson(row.pdu) as { content?: { membership?: unknown } }).content;
    return {
      roomId: row.room_id,
      target: row.state_key,
      membership: typeof content?.membership === 'string' ? content.membership : '',
    };
  });
}

/** Rooms `userId` has (or had) any membership in. */
export async function roomsWithMembershipOf(db: SqlExecutor, userId: string): Promise<Set<string>> {
  const rows = await db.query<{ room_id: string }>(
    'SELECT room_id FROM room_memberships WHERE user_id = $1',
    [userId],
  );
  return new Set(rows.map((row) => row.room_id));
}
