/**
 * Read-only queries `/sync` needs over the rooms service's tables that its API does not offer
 * (kept here, not in services/rooms, so the sync service owns its access patterns).
 */
import { parseAnyJson } from '@weft/canonical-json';
import type { SqlExecutor } from '../../storage/index.ts';

/** Rooms with a timeline event at a position in (`from`, `to`]. */
export async function roomsWithEventsBetween(
  db: SqlExecutor,
  from: number,
  to: number,
): Promise<Set<string>> {
  const rows = await db.query<{ room_id: string }>(
    'SELECT DISTINCT room_id FROM events WHERE stream_position > $1 AND stream_position <= $2',
    [from, to],
  );
  return new Set(rows.map((row) => row.room_id));
}

/** `userId`'s membership event in `roomId` as of stream position `at`. */
export async function membershipAt(
  db: SqlExecutor,
  roomId: string,
  userId: string,
  at: number,
): Promise<{ membership: string; eventId: string; position: number } | undefined> {
  const row = await db.queryOne<{ event_id: string; pdu: string; stream_position: number }>(
    `SELECT event_id, pdu, stream_position FROM events
      WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND stream_position <= $3
      ORDER BY stream_position DESC LIMIT 1`,
    [roomId, userId, at],
  );
  if (row === undefined) return undefined;
  const content = (parseAnyJson(row.pdu) as { content?: { membership?: unknown } }).content;
  return {
    membership: typeof content?.membership === 'string' ? content.membership : '',
    eventId: row.event_id,
    position: Number(row.stream_position),
  };
}

/**
 * `userId`'s membership in `roomId` as of stream position `at`, where state resolution may have
 * decided otherwise than the latest member event (`resolved_memberships`, recorded when a remote
 * event's state resolution kept an older member event): the later of the two wins, the resolved
 * row at the same position (as room-store.ts `membershipHistory` reads them). For the sync's
 * "was the user joined at the token" questions, which need the membership alone.
 */
export async function membershipStateAt(
  db: SqlExecutor,
  roomId: string,
  userId: string,
  at: number,
): Promise<string | undefined> {
  const event = await membershipAt(db, roomId, userId, at);
  const resolved = await db.queryOne<{ membership: string; stream_position: number }>(
    `SELECT membership, stream_position FROM resolved_memberships
      WHERE user_id = $1 AND room_id = $2 AND stream_position <= $3
      ORDER BY stream_position DESC LIMIT 1`,
    [userId, roomId, at],
  );
  if (
    resolved !== undefined &&
    (event === undefined || Number(resolved.stream_position) >= event.position)
  ) {
    return resolved.membership;
  }
  return event?.membership;
}

/** Joined and invited member counts of a room (current). */
export async function memberCounts(
  db: SqlExecutor,
  roomId: string,
): Promise<{ joined: number; invited: number }> {
  const rows = await db.query<{ membership: string; n: number }>(
    `SELECT membership, COUNT(*) AS n FROM room_memberships
      WHERE room_id = $1 AND membership IN ('join', 'invite') GROUP BY membership`,
    [roomId],
  );
  let joined = 0;
  let invited = 0;
  for (const row of rows) {
    if (row.membership === 'join') joined = Number(row.n);
    else invited = Number(row.n);
  }
  return { joined, invited };
}

/**
 * Spec "m.heroes": the first five joined or invited members other than `viewer` in stream order;
 * when there are none, the first five who left or were banned. Members of a remote room joined
 * through `send_join` share one position, so user ID breaks ties: the same heroes on every sync
 * (a client names an unnamed room from them). The tie order is each database's text order
 * (bytes on SQLite, the database's collation on PostgreSQL), which may differ between them for
 * IDs that differ in case or punctuation.
 */
export async function heroes(db: SqlExecutor, roomId: string, viewer: string): Promise<string[]> {
  const present = await db.query<{ user_id: string }>(
    `SELECT user_id FROM room_memberships
      WHERE room_id = $1 AND user_id <> $2 AND membership IN ('join', 'invite')
      ORDER BY stream_position, user_id LIMIT 5`,
    [roomId, viewer],
  );
  if (present.length > 0) return present.map((row) => row.user_id);
  const gone = await db.query<{ user_id: string }>(
    `SELECT user_id FROM room_memberships
      WHERE room_id = $1 AND user_id <> $2 AND membership IN ('leave', 'ban')
      ORDER BY stream_position, user_id LIMIT 5`,
    [roomId, viewer],
  );
  return gone.map((row) => row.user_id);
}
