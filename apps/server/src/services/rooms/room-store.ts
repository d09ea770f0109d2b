/**
 * Per-room rows: the room itself, its current state entries, its forward extremities and its
 * memberships. Reads here take any executor, so they work inside a write transaction.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { stateKeyOf } from '@weft/dag';

import { inListChunks, placeholders, textPerCount } from '../../storage/in-list.ts';
import type { Dialect, SqlExecutor } from '../../storage/index.ts';
import { isLocalUser } from './local-user.ts';
import type { Membership, RoomMembershipEntry } from './types.ts';

export interface RoomRow {
  readonly roomId: string;
  readonly roomVersion: string;
  readonly creator: string;
  readonly isPublic: boolean;
  readonly currentStateGroup: number | null;
  readonly maxDepth: number;
}

export async function loadRoom(db: SqlExecutor, roomId: string): Promise<RoomRow | undefined> {
  const row = await db.queryOne<{
    room_id: string;
    room_version: string;
    creator: string;
    is_public: number;
    current_state_group: number | null;
    max_depth: number;
  }>(
    'SELECT room_id, room_version, creator, is_public, current_state_group, max_depth FROM rooms WHERE room_id = $1',
    [roomId],
  );
  if (row === undefined) return undefined;
  return {
    roomId: row.room_id,
    roomVersion: row.room_version,
    creator: row.creator,
    isPublic: Number(row.is_public) === 1,
    currentStateGroup: row.current_state_group === null ? null : Number(row.current_state_group),
    maxDepth: Number(row.max_depth),
  };
}

/** The event ID of one current state entry. */
export async function currentStateEventId(
  db: SqlExecutor,
  roomId: string,
  type: string,
  stateKey: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ event_id: string }>(
    'SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = $3',
    [roomId, type, stateKey],
  );
  return row?.event_id;
}

/** Event IDs of the given current state entries, keyed by `stateKeyOf`. */
export async function currentStateEventIds(
  db: SqlExecutor,
  roomId: string,
  keys: ReadonlyArray<readonly [type: string, stateKey: string]>,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (keys.length === 0) return out;
  // One query for all entries (the send path asks for 3–4 per event), on the primary key.
  const rows = await db.query<{ type: string; state_key: string; event_id: string }>(
    currentStateSql(keys.length),
    [roomId, ...keys.flat()],
  );
  for (const row of rows) out.set(stateKeyOf(row.type, row.state_key), row.event_id);
  return out;
}

/**
 * The text of {@link currentStateEventIds} for `count` entries, built once per count: a send
 * asks with the same 3–4 entries each time. Bounded: no event's auth selection names more than
 * a few. A row-value `IN (VALUES …)` is one primary-key lookup per entry on SQLite; the same
 * entries as `(type = … AND state_key = …) OR …` made SQLite search by `room_id` alone and
 * filter every current state row of the room (30,000 members: ≈ 3 ms per send, against 6 µs).
 */
export const currentStateSql = textPerCount((count) => {
  const rows = Array.from({ length: count }, (_, i) => `($${2 * i + 2}, $${2 * i + 3})`);
  return `SELECT type, state_key, event_id FROM room_current_state
      WHERE room_id = $1 AND (type, state_key) IN (VALUES ${rows.join(', ')})`;
}, 16);

export async function forwardExtremities(db: SqlExecutor, roomId: string): Promise<string[]> {
  const rows = await db.query<{ event_id: string }>(
    'SELECT event_id FROM room_forward_extremities WHERE room_id = $1 ORDER BY event_id',
    [roomId],
  );
  return rows.map((row) => row.event_id);
}

/**
 * The `stream_position` a `room_memberships` upsert keeps (its `ON CONFLICT … DO UPDATE SET`):
 * where a join follows a join — a display name or avatar change, not a new join — the row keeps
 * the position of the join itself, so "joined since" stays true for the push counts' read floor
 * (push/store.ts `readPositionsSql`: a profile change must not mark the room read) and for the
 * history visibility fast path; every other change moves it to the new event.
 */
export const JOINED_SINCE = `CASE WHEN room_memberships.membership = 'join' AND excluded.membership = 'join'
    THEN room_memberships.stream_position ELSE excluded.stream_position END`;

interface MembershipRow {
  [column: string]: unknown;
  room_id: string;
  membership: string;
  event_id: string;
  stream_position: number;
  forgotten: number;
}

function toEntry(row: MembershipRow): RoomMembershipEntry {
  return {
    roomId: row.room_id,
    membership: row.membership as Membership,
    eventId: row.event_id,
    streamPosition: Number(row.stream_position),
    forgotten: Number(row.forgotten) === 1,
  };
}

export async function membershipOf(
  db: SqlExecutor,
  roomId: string,
  userId: string,
): Promise<RoomMembershipEntry | undefined> {
  const row = await db.queryOne<MembershipRow>(
    'SELECT room_id, membership, event_id, stream_position, forgotten FROM room_memberships WHERE room_id = $1 AND user_id = $2',
    [roomId, userId],
  );
  return row === undefined ? undefined : toEntry(row);
}

export async function membershipsOfUser(
  db: SqlExecutor,
  userId: string,
): Promise<RoomMembershipEntry[]> {
  const rows = await db.query<MembershipRow>(
    'SELECT room_id, membership, event_id, stream_position, forgotten FROM room_memberships WHERE user_id = $1 ORDER BY stream_position',
    [userId],
  );
  return rows.map(toEntry);
}

/**
 * The users joined to `roomId`, through `db` (a transaction's executor sees its own writes): who
 * sees the room's receipts, who its events notify, which servers its events go to.
 */
export async function joinedMembers(db: SqlExecutor, roomId: string): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    "SELECT user_id FROM room_memberships WHERE room_id = $1 AND membership = 'join'",
    [roomId],
  );
  return rows.map((row) => row.user_id);
}

/**
 * This server's users joined to `roomId`: the push service's recipients are among them, and in a
 * big federated room they are a few of thousands. The `LIKE` (case-insensitive on SQLite, and
 * `_` matches any character) only narrows the rows; `isLocalUser` decides.
 */
export async function localJoinedMembers(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    "SELECT user_id FROM room_memberships WHERE room_id = $1 AND membership = 'join' AND user_id LIKE $2",
    [roomId, `%:${serverName}`],
  );
  const local: string[] = [];
  for (const row of rows) if (isLocalUser(row.user_id, serverName)) local.push(row.user_id);
  return local;
}

/**
 * Whether a user of `serverName` has a membership of `roomId` — one of `memberships`, or any
 * (left, banned and knocked included) when it is omitted: federation's room-level gate asks for
 * `join` (federation/visibility.ts), `/hierarchy`'s previews for `join` or `invite`
 * (spaces/summary.ts). The `LIKE`
 * only narrows the rows, as in {@link localJoinedMembers}; `isLocalUser` decides.
 */
export async function serverHasMember(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
  memberships?: readonly string[],
): Promise<boolean> {
  const rows = await db.query<{ user_id: string; membership: string }>(
    'SELECT user_id, membership FROM room_memberships WHERE room_id = $1 AND user_id LIKE $2',
    [roomId, `%:${serverName}`],
  );
  return rows.some(
    (row) =>
      isLocalUser(row.user_id, serverName) &&
      (memberships === undefined || memberships.includes(row.membership)),
  );
}

/** How many users are joined to `roomId` (push rules' `room_member_count`). */
export async function joinedMemberCount(db: SqlExecutor, roomId: string): Promise<number> {
  const row = await db.queryOne<{ count: number }>(
    "SELECT count(*) AS count FROM room_memberships WHERE room_id = $1 AND membership = 'join'",
    [roomId],
  );
  return Number(row?.count ?? 0);
}

/**
 * The servers of `roomId`'s joined members, distinct in SQL: a join accepted in a 30,000-member
 * room read every member ID into JS (`joinedMembers`, 45–120 ms, and 30,000 strings for the GC)
 * before the first byte of its answer, where the database's DISTINCT over the server parts takes
 * ≈ 10 ms alone.
 */
export async function joinedServers(
  db: SqlExecutor,
  dialect: Dialect,
  roomId: string,
): Promise<string[]> {
  // The first ':' of a user ID ends its localpart (spec appendices "User Identifiers");
  // PostgreSQL has no instr().
  const colon = dialect === 'sqlite' ? "instr(user_id, ':')" : "strpos(user_id, ':')";
  const rows = await db.query<{ server: string }>(
    `SELECT DISTINCT substr(user_id, ${colon} + 1) AS server FROM room_memberships
      WHERE room_id = $1 AND membership = 'join'`,
    [roomId],
  );
  return rows.map((row) => row.server);
}

/** The rooms each of `userIds` is joined to (a user joined nowhere is absent). */
export async function joinedRoomsOfUsers(
  db: SqlExecutor,
  userIds: readonly string[],
): Promise<Map<string, string[]>> {
  const rooms = new Map<string, string[]>();
  for (const chunk of inListChunks(userIds)) {
    const rows = await db.query<{ user_id: string; room_id: string }>(
      `SELECT user_id, room_id FROM room_memberships
        WHERE user_id IN (${placeholders(chunk.length)}) AND membership = 'join'`,
      chunk,
    );
    for (const row of rows) {
      const of = rooms.get(row.user_id);
      if (of === undefined) rooms.set(row.user_id, [row.room_id]);
      else of.push(row.room_id);
    }
  }
  return rooms;
}

/**
 * The users joined to at least one room `userId` is joined to, `userId` included (when joined
 * anywhere): who sees the user's presence and device-list changes, and their servers.
 */
export async function usersSharingRoomsWith(db: SqlExecutor, userId: string): Promise<string[]> {
  const rows = await db.query<{ user_id: string }>(
    `SELECT DISTINCT other.user_id FROM room_memberships mine
       JOIN room_memberships other ON other.room_id = mine.room_id AND other.membership = 'join'
      WHERE mine.user_id = $1 AND mine.membership = 'join'`,
    [userId],
  );
  return rows.map((row) => row.user_id);
}

/** One of a user's member events: its stream position and `content.membership`. */
export interface MembershipEntry {
  readonly position: number;
  readonly membership: unknown;
}

function membershipEntry(row: { stream_position: number; pdu: string }): MembershipEntry {
  return {
    position: Number(row.stream_position),
    membership: (parseAnyJson(row.pdu) as { content?: { membership?: unknown } }).content
      ?.membership,
  };
}

/**
 * A row of a membership-history statement: a positioned member event (`pdu`) or, with `pdu`
 * null, a membership state resolution left (`resolved_memberships`); a position's member event
 * comes before its resolved row (`ORDER BY stream_position, resolved`).
 */
interface MembershipHistoryRow {
  [column: string]: unknown;
  readonly stream_position: number;
  readonly pdu: string | null;
  readonly membership: string | null;
}

/**
 * Appends `row` to `history` (oldest first). Both readers below go through it so that they agree
 * on what a resolved row means: it replaces the member event at its position (one whose fork
 * lost), so a position has one membership, the one its event was stored with.
 */
function appendMembership(history: MembershipEntry[], row: MembershipHistoryRow): void {
  const entry =
    row.pdu === null
      ? { position: Number(row.stream_position), membership: row.membership }
      : membershipEntry({ stream_position: row.stream_position, pdu: row.pdu });
  if (history.at(-1)?.position === entry.position) history[history.length - 1] = entry;
  else history.push(entry);
}

/**
 * A user's membership history in a room, oldest first, in one statement: their positioned member
 * events and where state resolution decided otherwise (`resolved_memberships`), as
 * {@link membershipHistories} reads it for every room at once. Per-event history visibility
 * reads it (event-visibility.ts).
 */
export async function membershipHistory(
  db: SqlExecutor,
  userId: string,
  roomId: string,
): Promise<MembershipEntry[]> {
  const rows = await db.query<MembershipHistoryRow>(
    `SELECT stream_position, pdu, NULL AS membership, 0 AS resolved FROM events
      WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2
        AND stream_position IS NOT NULL
     UNION ALL
     SELECT stream_position, NULL, membership, 1 FROM resolved_memberships
      WHERE user_id = $2 AND room_id = $1
     ORDER BY stream_position, resolved`,
    [roomId, userId],
  );
  const history: MembershipEntry[] = [];
  for (const row of rows) appendMembership(history, row);
  return history;
}

/**
 * The membership histories of `userIds` in `roomId`, by user, each oldest first and as
 * {@link membershipHistory} reads it for one user — in one statement per
 * {@link IN_LIST_CHUNK} users rather than one per user. A user with no history is absent.
 * Serving events to another server reads it for that server's users (event-visibility.ts).
 */
export async function membershipHistoriesInRoom(
  db: SqlExecutor,
  roomId: string,
  userIds: readonly string[],
): Promise<Map<string, MembershipEntry[]>> {
  const out = new Map<string, MembershipEntry[]>();
  for (const chunk of inListChunks([...new Set(userIds)])) {
    const list = placeholders(chunk.length, 2);
    const rows = await db.query<MembershipHistoryRow & { user_id: string }>(
      `SELECT state_key AS user_id, stream_position, pdu, NULL AS membership, 0 AS resolved
        FROM events
        WHERE room_id = $1 AND type = 'm.room.member' AND state_key IN (${list})
          AND stream_position IS NOT NULL
       UNION ALL
       SELECT user_id, stream_position, NULL, membership, 1 FROM resolved_memberships
        WHERE room_id = $1 AND user_id IN (${list})
       ORDER BY stream_position, resolved`,
      [roomId, ...chunk],
    );
    for (const row of rows) {
      let history = out.get(row.user_id);
      if (history === undefined) {
        history = [];
        out.set(row.user_id, history);
      }
      appendMembership(history, row);
    }
  }
  return out;
}

/**
 * A user's membership history in every room they have (or had) a membership in, by room, each
 * oldest first, in one statement: their positioned member events (the `events_membership`
 * index: type, state key, position) and where state resolution decided otherwise
 * (`resolved_memberships`, {@link recordResolvedMembership}), which wins at the same position.
 * The notification list reads it.
 */
export async function membershipHistories(
  db: SqlExecutor,
  userId: string,
): Promise<Map<string, MembershipEntry[]>> {
  const rows = await db.query<MembershipHistoryRow & { room_id: string }>(
    `SELECT room_id, stream_position, pdu, NULL AS membership, 0 AS resolved FROM events
      WHERE type = 'm.room.member' AND state_key = $1 AND stream_position IS NOT NULL
        AND room_id IN (SELECT room_id FROM room_memberships WHERE user_id = $1)
     UNION ALL
     SELECT room_id, stream_position, NULL, membership, 1 FROM resolved_memberships
      WHERE user_id = $1
        AND room_id IN (SELECT room_id FROM room_memberships WHERE user_id = $1)
     ORDER BY stream_position, resolved`,
    [userId],
  );
  const histories = new Map<string, MembershipEntry[]>();
  for (const row of rows) {
    let history = histories.get(row.room_id);
    if (history === undefined) {
      history = [];
      histories.set(row.room_id, history);
    }
    appendMembership(history, row);
  }
  return histories;
}

/**
 * Records `userId`'s membership in `roomId` as state resolution left it at stream position
 * `position` (migration 0104), where their member events alone would say otherwise: the
 * federation receiver calls it for local users only; `GET /notifications` and per-event history
 * visibility read it ({@link membershipHistories}, {@link membershipHistory}).
 */
export async function recordResolvedMembership(
  tx: SqlExecutor,
  roomId: string,
  userId: string,
  membership: string,
  position: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO resolved_memberships (user_id, room_id, stream_position, membership)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, room_id, stream_position) DO UPDATE SET membership = excluded.membership`,
    [userId, roomId, position, membership],
  );
}
