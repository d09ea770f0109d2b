/**
 * SQL of push evaluation results (migration 0101): `push_room_actions` holds one row per event,
 * the decision shared by its audience (the local members joined when it was stored, but its
 * sender); `push_user_actions` holds a user's own decision where it differs or where the user is
 * not in the audience (an invitee; a member who ignores the sender has one that neither notifies
 * nor highlights, push/service.ts); `unread_counts` keeps each member's counts in a room.
 */
import { inListChunks, placeholders, textPerCount } from '../../storage/in-list.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { MAIN_THREAD } from '../relations/thread.ts';

/** What the push rules decided: flags and the actions as JSON. */
export type StoredDecision = {
  readonly notify: number;
  readonly highlight: number;
  readonly actions_json: string;
};

/** The event a set of push actions belongs to. */
export type PushedEvent = {
  readonly room_id: string;
  readonly event_id: string;
  readonly stream_position: number;
  readonly sender: string;
  readonly ts: number;
  /** The event's thread: its root's event ID or `main` (services/relations/thread.ts). */
  readonly thread_id: string;
};

/** One push-action row as `GET /notifications` lists it. */
export type ListedAction = Omit<PushedEvent, 'sender'> & StoredDecision;

/** A user's kept unread counts in a room, as of the position of their last change. */
export type UnreadRow = {
  readonly user_id: string;
  readonly notifications: number;
  readonly highlights: number;
  readonly stream_position: number;
};

/** What one event added to a user's unread counts. */
export type UnreadIncrement = {
  readonly user_id: string;
  readonly notify: number;
  readonly highlight: number;
};

/**
 * Stores an event's push actions — `shared` for every member of `audience` without an own row,
 * `own` for each of those users — and adds them to the users' unread counts as of the event's
 * position; returns what it added to whose counts. An event stored before (evaluated twice) is
 * not counted again.
 */
export async function insertPushActions(
  tx: SqlExecutor,
  event: PushedEvent,
  shared: StoredDecision | undefined,
  own: ReadonlyMap<string, StoredDecision>,
  audience: readonly string[],
): Promise<UnreadIncrement[]> {
  const added: UnreadIncrement[] = [];
  if (shared !== undefined) {
    if (!(await insertShared(tx, event, shared))) return [];
    if (shared.notify !== 0) {
      for (const userId of audience) {
        if (!own.has(userId)) {
          added.push({ user_id: userId, notify: shared.notify, highlight: shared.highlight });
        }
      }
    }
  }
  for (const [userId, decision] of own) {
    if (!(await insertOwn(tx, userId, event, decision))) continue;
    if (decision.notify !== 0) {
      added.push({ user_id: userId, notify: decision.notify, highlight: decision.highlight });
    }
  }
  // PostgreSQL takes at most 65,535 parameters per statement: 5 per row, so 1,000 rows a batch.
  for (let start = 0; start < added.length; start += 1000) {
    await addUnread(tx, event, added.slice(start, start + 1000));
  }
  return added;
}

/**
 * Inserts the shared row; whether it was new. Single-row statements prepared once, and the
 * affected-row count instead of `RETURNING`: on SQLite a multi-row `INSERT … ON CONFLICT DO
 * NOTHING RETURNING` cost ≈ 3× (decision record 2026-11-29 07:10).
 */
async function insertShared(
  tx: SqlExecutor,
  event: PushedEvent,
  decision: StoredDecision,
): Promise<boolean> {
  const changes = await tx.execute(
    `INSERT INTO push_room_actions
       (room_id, stream_position, event_id, sender, notify, highlight, actions_json, ts, thread_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (room_id, stream_position) DO NOTHING`,
    [
      event.room_id,
      event.stream_position,
      event.event_id,
      event.sender,
      decision.notify,
      decision.highlight,
      decision.actions_json,
      event.ts,
      event.thread_id,
    ],
  );
  return changes > 0;
}

/** Inserts a user's own row; whether it was new. */
async function insertOwn(
  tx: SqlExecutor,
  userId: string,
  event: PushedEvent,
  decision: StoredDecision,
): Promise<boolean> {
  const changes = await tx.execute(
    `INSERT INTO push_user_actions
       (user_id, room_id, stream_position, event_id, notify, highlight, actions_json, ts, thread_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (user_id, room_id, stream_position) DO NOTHING`,
    [
      userId,
      event.room_id,
      event.stream_position,
      event.event_id,
      decision.notify,
      decision.highlight,
      decision.actions_json,
      event.ts,
      event.thread_id,
    ],
  );
  return changes > 0;
}

/**
 * Adds one event's decisions (one per user) to their users' unread counts. No `RETURNING`: the
 * caller knows the increments, and on SQLite returning the sums cost ≈ 70% more than the upsert
 * (9 rows: 58–79 against 35–54 µs with its commit).
 */
async function addUnread(
  tx: SqlExecutor,
  event: PushedEvent,
  rows: readonly UnreadIncrement[],
): Promise<void> {
  if (rows.length === 0) return;
  const params: (string | number)[] = [];
  for (const row of rows) {
    params.push(event.room_id, row.user_id, row.notify, row.highlight, event.stream_position);
  }
  await tx.execute(addUnreadSql(rows.length), params);
}

/**
 * The upsert's text for `count` rows, built once per count up to 64 (every event of a room adds
 * as many rows as it has members to count): a few kilobytes each.
 */
const addUnreadSql = textPerCount((count) => {
  const values = Array.from({ length: count }, (_, i) => {
    const n = i * 5;
    return `($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5})`;
  });
  return `INSERT INTO unread_counts (room_id, user_id, notifications, highlights, stream_position)
     VALUES ${values.join(', ')}
     ON CONFLICT (room_id, user_id) DO UPDATE SET
       notifications = unread_counts.notifications + excluded.notifications,
       highlights = unread_counts.highlights + excluded.highlights,
       stream_position = excluded.stream_position`;
}, 64);

/**
 * Recounts a user's unread counts in a room from the push actions (after a read receipt, their
 * join or a redaction changed what is unread) as of stream position `position`, the position of
 * that change; `threaded`: whether any of them is in a thread (not the main timeline).
 */
export async function recountUnread(
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  position: number,
): Promise<{ notifications: number; highlights: number; threaded: boolean }> {
  const byThread = await countUnreadByThread(tx, userId, roomId, position);
  const counts = totalOf(byThread);
  await setUnread(tx, userId, roomId, counts, position);
  return { ...counts, threaded: hasThreads(byThread) };
}

/** Whether per-thread counts have a thread other than the main timeline. */
export function hasThreads(byThread: ReadonlyMap<string, UnreadCounts>): boolean {
  return byThread.size > (byThread.has(MAIN_THREAD) ? 1 : 0);
}

/** The threads' counts together. */
function totalOf(byThread: ReadonlyMap<string, UnreadCounts>): UnreadCounts {
  const total = { notifications: 0, highlights: 0 };
  for (const counts of byThread.values()) {
    total.notifications += counts.notifications;
    total.highlights += counts.highlights;
  }
  return total;
}

/** Sets a user's unread counts in a room as of stream position `position`. */
export async function setUnread(
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  counts: { readonly notifications: number; readonly highlights: number },
  position: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO unread_counts (room_id, user_id, notifications, highlights, stream_position)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (room_id, user_id) DO UPDATE SET notifications = excluded.notifications,
       highlights = excluded.highlights, stream_position = excluded.stream_position`,
    [roomId, userId, counts.notifications, counts.highlights, position],
  );
}

/** The sender of an event's shared row, if it has one. */
export async function sharedSender(
  tx: SqlExecutor,
  roomId: string,
  position: number,
): Promise<string | undefined> {
  const row = await tx.queryOne<{ sender: string }>(
    'SELECT sender FROM push_room_actions WHERE room_id = $1 AND stream_position = $2',
    [roomId, position],
  );
  return row?.sender;
}

/** The users with an own row for the event at `position` in `roomId`. */
export async function ownActionUsers(
  tx: SqlExecutor,
  roomId: string,
  position: number,
): Promise<string[]> {
  const rows = await tx.query<{ user_id: string }>(
    'SELECT user_id FROM push_user_actions WHERE room_id = $1 AND stream_position = $2',
    [roomId, position],
  );
  return rows.map((row) => row.user_id);
}

/** Drops every user's push actions for the event at `position` in `roomId`. */
export async function deletePushActions(
  tx: SqlExecutor,
  roomId: string,
  position: number,
): Promise<void> {
  await tx.execute('DELETE FROM push_room_actions WHERE room_id = $1 AND stream_position = $2', [
    roomId,
    position,
  ]);
  await tx.execute('DELETE FROM push_user_actions WHERE room_id = $1 AND stream_position = $2', [
    roomId,
    position,
  ]);
}

/**
 * The positions user `$1` has read up to in the rooms whose ID matches `roomCondition`
 * (`IN (…)`), one row (room_id, thread_id, p) each: their read receipts' events — `unthreaded`:
 * only those that read every thread (thread `''`); `every`: also the threaded ones, `main` for
 * the main timeline or a thread root, which read their own thread only — and their join, as
 * thread `''` (what came before it, such as their own invite, is not unread; Synapse does the
 * same). Spec client-server-api "Receiving notifications": receipts reset the counts, per thread.
 */
export function readPositionsSql(roomCondition: string, receipts: 'unthreaded' | 'every'): string {
  const threads = receipts === 'unthreaded' ? "AND r.thread_id = ''" : '';
  return `SELECT r.room_id AS room_id, r.thread_id AS thread_id, e.stream_position AS p
      FROM receipts r JOIN events e ON e.event_id = r.event_id
     WHERE r.user_id = $1 AND r.room_id ${roomCondition}
       AND r.receipt_type IN ('m.read', 'm.read.private') ${threads}
    UNION ALL
    SELECT m.room_id AS room_id, '' AS thread_id, m.stream_position AS p FROM room_memberships m
     WHERE m.user_id = $1 AND m.room_id ${roomCondition} AND m.membership = 'join'`;
}

/** A user's kept unread counts row of a room, if any. */
export function keptUnread(
  db: SqlExecutor,
  userId: string,
  roomId: string,
): Promise<Omit<UnreadRow, 'user_id'> | undefined> {
  return db.queryOne<Omit<UnreadRow, 'user_id'>>(
    `SELECT notifications, highlights, stream_position FROM unread_counts
      WHERE room_id = $1 AND user_id = $2`,
    [roomId, userId],
  );
}

/** The counts as of `to` given the kept row (`undefined`: none). */
export async function countsAsOf(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  kept: Omit<UnreadRow, 'user_id'> | undefined,
  to: number,
): Promise<{ notifications: number; highlights: number }> {
  // No row: nothing was ever unread (every push action and recount writes one).
  if (kept === undefined) return { notifications: 0, highlights: 0 };
  if (Number(kept.stream_position) <= to) {
    return { notifications: Number(kept.notifications), highlights: Number(kept.highlights) };
  }
  return countUnread(db, userId, roomId, to);
}

/** A thread's (or the room's) unread notification and highlight counts. */
export type UnreadCounts = { notifications: number; highlights: number };

/**
 * Unread counts of a user in a room up to stream position `to`, counted from the rows, the
 * threads together (what `unread_counts` keeps). See {@link countUnreadByThread}.
 */
export async function countUnread(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  to: number,
): Promise<UnreadCounts> {
  return totalOf(await countUnreadByThread(db, userId, roomId, to));
}

/**
 * Unread counts of a user in a room up to stream position `to` per thread (`main`: the main
 * timeline; only threads with unread rows), counted from the rows. One room of
 * {@link countUnreadByThreadInRooms}.
 */
export async function countUnreadByThread(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  to: number,
): Promise<Map<string, UnreadCounts>> {
  const byRoom = await countUnreadByThreadInRooms(db, userId, [roomId], to);
  return byRoom.get(roomId) ?? new Map();
}

/**
 * Unread counts of a user up to stream position `to` in each of `roomIds` per thread, in one
 * statement per chunk of rooms (a `/sync` answering many rooms with threaded unreads; a receipt's
 * recount asks for one): room ID → thread → counts, a room with nothing unread absent. See
 * {@link unreadByThreadSql}.
 */
export async function countUnreadByThreadInRooms(
  db: SqlExecutor,
  userId: string,
  roomIds: readonly string[],
  to: number,
): Promise<Map<string, Map<string, UnreadCounts>>> {
  const out = new Map<string, Map<string, UnreadCounts>>();
  for (const chunk of inListChunks(roomIds)) {
    const rows = await db.query<{
      room_id: string;
      thread_id: string;
      notifications: number | null;
      highlights: number | null;
    }>(unreadByThreadSql(chunk.length), [userId, to, ...chunk]);
    for (const row of rows) {
      const counts = {
        notifications: Number(row.notifications ?? 0),
        highlights: Number(row.highlights ?? 0),
      };
      if (counts.notifications === 0 && counts.highlights === 0) continue;
      let byThread = out.get(row.room_id);
      if (byThread === undefined) {
        byThread = new Map();
        out.set(row.room_id, byThread);
      }
      byThread.set(row.thread_id, counts);
    }
  }
  return out;
}

/**
 * The unread counts of user `$1` up to stream position `$2` in `count` rooms (`$3`…) by room and
 * thread: the shared rows after what they read, unless they sent the event or have their own row
 * for it, and their own rows. What they read of a row's thread is their unthreaded receipts and
 * join (`read_up_to`: one row per asked room, at least 0) and their receipts of that thread
 * (`thread_read_up_to`). Shared rows count only while the user is joined: everything after
 * their join (`read_up_to`'s floor) was stored while they were in the audience. Each room's rows
 * are read as one index range after its `read_up_to` (`CROSS JOIN`: SQLite keeps that order;
 * otherwise it may read all the user's own rows first). Built once per count up to 64: every
 * read receipt's recount asks for one room.
 */
const unreadByThreadSql = textPerCount((count) => {
  const rooms = placeholders(count, 3);
  const asked = Array.from({ length: count }, (_, i) => `($${i + 3})`).join(', ');
  return `WITH read_up_to AS (
       SELECT room_id, MAX(p) AS p FROM (
         ${readPositionsSql(`IN (${rooms})`, 'unthreaded')}
         UNION ALL SELECT column1 AS room_id, '' AS thread_id, 0 AS p FROM (VALUES ${asked}) asked
       ) positions GROUP BY room_id),
     thread_read_up_to AS (
       SELECT r.room_id AS room_id, r.thread_id AS thread_id, MAX(e.stream_position) AS p
         FROM receipts r JOIN events e ON e.event_id = r.event_id
        WHERE r.user_id = $1 AND r.room_id IN (${rooms})
          AND r.receipt_type IN ('m.read', 'm.read.private') AND r.thread_id <> ''
        GROUP BY r.room_id, r.thread_id)
     SELECT c.room_id AS room_id, c.thread_id AS thread_id, SUM(c.notify) AS notifications,
            SUM(c.highlight) AS highlights FROM (
       SELECT s.room_id, s.thread_id, s.stream_position, s.notify, s.highlight
         FROM read_up_to u CROSS JOIN push_room_actions s
        WHERE s.room_id = u.room_id AND s.stream_position <= $2 AND s.stream_position > u.p AND s.sender <> $1
          AND EXISTS (SELECT 1 FROM room_memberships m
                       WHERE m.room_id = s.room_id AND m.user_id = $1 AND m.membership = 'join')
          AND NOT EXISTS (SELECT 1 FROM push_user_actions o
                           WHERE o.user_id = $1 AND o.room_id = s.room_id
                             AND o.stream_position = s.stream_position)
       UNION ALL
       SELECT o.room_id, o.thread_id, o.stream_position, o.notify, o.highlight
         FROM read_up_to u CROSS JOIN push_user_actions o
        WHERE o.user_id = $1 AND o.room_id = u.room_id AND o.stream_position <= $2
          AND o.stream_position > u.p
     ) c LEFT JOIN thread_read_up_to t ON t.room_id = c.room_id AND t.thread_id = c.thread_id
     WHERE t.p IS NULL OR c.stream_position > t.p
     GROUP BY c.room_id, c.thread_id`;
}, 64);
