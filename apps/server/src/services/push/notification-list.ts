/**
 * The rows behind `GET /notifications` (client-server-api "Listing Notifications"): a user's
 * notifications are their own rows and the shared rows of the events they were in the audience
 * of — stored while they were joined to the room and not sent by them — unless they have their
 * own row for that event.
 *
 * A page costs a bounded number of statements however many rooms the user is in (it was three
 * to four per room): one for the user's membership history in every room (their joined
 * stretches: their member events, and where state resolution set their membership otherwise),
 * one for their own rows, one per {@link STRETCHES_PER_STATEMENT} stretches for the shared rows
 * (each stretch's newest `limit` through the primary key, merged by the database), and one for
 * how far they have read the rooms on the page.
 */
import { inListChunks, placeholders } from '../../storage/in-list.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { membershipHistories } from '../rooms/room-store.ts';
import { type ListedAction, readPositionsSql } from './store.ts';

/** A listed row and whether the user has read it. */
export type ListedNotification = Omit<ListedAction, 'thread_id'> & { readonly read: boolean };

/**
 * Which page: rows before stream position `before` (and after `after`, when given: push
 * delivery's catch-up reads only what came after a pusher's progress), at most `limit`.
 */
export interface NotificationPage {
  readonly after?: number;
  readonly before: number;
  readonly limit: number;
  readonly onlyHighlights: boolean;
}

/**
 * Stretches per shared-rows statement: each is one term of a compound SELECT, and SQLite refuses
 * more than 500 terms (SQLITE_MAX_COMPOUND_SELECT).
 */
const STRETCHES_PER_STATEMENT = 200;

const LISTED_COLUMNS =
  'room_id, stream_position, event_id, notify, highlight, actions_json, ts, thread_id';

/** The user's notifications before stream position `before`, newest first, at most `limit`. */
export async function listNotifications(
  db: SqlExecutor,
  userId: string,
  page: NotificationPage,
): Promise<ListedNotification[]> {
  const stretches = await joinedStretchesByRoom(db, userId);
  const rows = [
    ...(await ownNotifications(db, userId, page)),
    ...(await sharedNotifications(db, userId, stretches, page)),
  ];
  const listed = newestFirst(rows).slice(0, page.limit);
  const rooms = [...new Set(listed.map((row) => row.room_id))];
  const read = await readPositions(db, userId, rooms);
  const readUpTo = (roomId: string, thread: string) => read.get(`${roomId}\u0000${thread}`) ?? 0;
  return listed.map(({ thread_id: thread, ...row }) => {
    const position = Number(row.stream_position);
    // Read if an unthreaded receipt (or the join) reached it, or a receipt of its own thread.
    const upTo = Math.max(readUpTo(row.room_id, ''), readUpTo(row.room_id, thread));
    return { ...row, read: position <= upTo };
  });
}

function newestFirst<T extends { stream_position: number }>(rows: T[]): T[] {
  return rows.sort((a, b) => Number(b.stream_position) - Number(a.stream_position));
}

/** A joined stretch of the user in one room. */
interface RoomStretch {
  readonly roomId: string;
  readonly after: number;
  readonly before: number;
}

/** The user's joined stretches in every room they have (or had) a membership in. */
async function joinedStretchesByRoom(db: SqlExecutor, userId: string): Promise<RoomStretch[]> {
  const histories = await membershipHistories(db, userId);
  return [...histories].flatMap(([roomId, history]) =>
    joinedStretches(history).map((stretch) => ({ roomId, ...stretch })),
  );
}

/**
 * The user's own rows that notify (`notify = 1`; with `onlyHighlights`, highlighting too), the
 * newest `limit` between `after` and `before`, in every room they have a membership in.
 */
function ownNotifications(
  db: SqlExecutor,
  userId: string,
  page: NotificationPage,
): Promise<ListedAction[]> {
  return db.query<ListedAction>(
    `SELECT ${LISTED_COLUMNS} FROM push_user_actions
      WHERE user_id = $1 AND stream_position < $2 AND stream_position > $4
        AND notify = 1 ${page.onlyHighlights ? 'AND highlight = 1' : ''}
        AND room_id IN (SELECT room_id FROM room_memberships WHERE user_id = $1)
      ORDER BY stream_position DESC LIMIT $3`,
    [userId, page.before, page.limit, page.after ?? -1],
  );
}

/**
 * The shared rows in the user's joined stretches (before `before`), not sent by them and not
 * overridden by an own row: the newest `limit` of each stretch (a range of the primary key,
 * read newest first), merged newest first by the database.
 */
async function sharedNotifications(
  db: SqlExecutor,
  userId: string,
  stretches: readonly RoomStretch[],
  page: NotificationPage,
): Promise<ListedAction[]> {
  const ranges = stretches
    .map((stretch) => ({
      ...stretch,
      after: Math.max(stretch.after, page.after ?? -1),
      before: Math.min(stretch.before, page.before),
    }))
    .filter((stretch) => stretch.before > stretch.after);
  const out: ListedAction[] = [];
  for (let start = 0; start < ranges.length; start += STRETCHES_PER_STATEMENT) {
    const chunk = ranges.slice(start, start + STRETCHES_PER_STATEMENT);
    // $1 the user, $2 the limit; then room, after, before of each stretch.
    const terms = chunk.map((_, i) => {
      const n = 3 + i * 3;
      return `SELECT * FROM (
        SELECT ${LISTED_COLUMNS} FROM push_room_actions s
         WHERE s.room_id = $${n} AND s.stream_position > $${n + 1} AND s.stream_position < $${n + 2}
           AND s.sender <> $1 AND s.notify = 1 ${page.onlyHighlights ? 'AND s.highlight = 1' : ''}
           AND NOT EXISTS (SELECT 1 FROM push_user_actions o
                            WHERE o.user_id = $1 AND o.room_id = s.room_id
                              AND o.stream_position = s.stream_position)
         ORDER BY s.stream_position DESC LIMIT $2) AS stretch${i}`;
    });
    out.push(
      ...(await db.query<ListedAction>(
        `${terms.join(' UNION ALL ')} ORDER BY stream_position DESC LIMIT $2`,
        [
          userId,
          page.limit,
          ...chunk.flatMap((stretch) => [stretch.roomId, stretch.after, stretch.before]),
        ],
      )),
    );
  }
  return out;
}

/**
 * How far the user has read the threads of `roomIds`, by `room\0thread`, in one statement per
 * chunk of rooms: thread `''` is what reads every thread of the room (their latest unthreaded
 * read receipt, and at least their join: store.ts `readPositionsSql`), any other key a thread's
 * own threaded receipts (`main` for the main timeline, else the thread root). Absent: read up
 * to 0.
 */
async function readPositions(
  db: SqlExecutor,
  userId: string,
  roomIds: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const chunk of inListChunks(roomIds)) {
    const rooms = placeholders(chunk.length, 2);
    const rows = await db.query<{ room_id: string; thread_id: string; p: number }>(
      `SELECT room_id, thread_id, MAX(p) AS p FROM (
         ${readPositionsSql(`IN (${rooms})`, 'every')}
       ) read_up_to
       GROUP BY room_id, thread_id`,
      [userId, ...chunk],
    );
    for (const row of rows) out.set(`${row.room_id}\u0000${row.thread_id}`, Number(row.p ?? 0));
  }
  return out;
}

/**
 * The stretches of stream positions (`after`, `before`, both excluded) in which the user was
 * joined: from a join to their next membership that is not a join. A membership at position p
 * is the one the event at p was stored with (push evaluation runs after its state is stored), so
 * a stretch holds its join's own position: a join that state resolution brought back at p —
 * the user in the audience of the event at p — and a join event (its sender, the user, is never
 * its audience) alike; a leave at p ends it before p. A row at the join's own position is listed
 * as read: the read position starts at the user's join (`readPositionsSql`), as the unread
 * counts do.
 */
export function joinedStretches(
  history: readonly { position: number; membership: unknown }[],
): { after: number; before: number }[] {
  const stretches: { after: number; before: number }[] = [];
  let joinedAt: number | undefined;
  for (const { position, membership } of history) {
    if (membership === 'join') {
      joinedAt ??= position;
    } else if (joinedAt !== undefined) {
      stretches.push({ after: joinedAt - 1, before: position });
      joinedAt = undefined;
    }
  }
  if (joinedAt !== undefined) {
    stretches.push({ after: joinedAt - 1, before: Number.MAX_SAFE_INTEGER });
  }
  return stretches;
}
