/**
 * The rows behind `GET /notifications` (client-server-api "Listing Notifications"): a user's
 * notifications are their own rows and the shared rows of the events they were in the audience
 * of — stored while they were joined to the room and not sent by them — unless they have their
 * own row for that event. Read per room (at most `limit` each), then merged newest first.
 */
import type { SqlExecutor } from '../../storage/index.ts';
import { membershipHistory } from '../rooms/room-store.ts';
import {
  type ListedAction,
  membershipRooms,
  ownActionsBefore,
  ownPositionsBetween,
  readUpTo,
  sharedActionsBetween,
} from './store.ts';

/** A listed row and whether the user has read it. */
export type ListedNotification = ListedAction & { readonly read: boolean };

/** The user's notifications before stream position `before`, newest first, at most `limit`. */
export async function listNotifications(
  db: SqlExecutor,
  userId: string,
  options: { before: number; limit: number; onlyHighlights: boolean },
): Promise<ListedNotification[]> {
  const all: ListedNotification[] = [];
  for (const roomId of await membershipRooms(db, userId)) {
    const rows = await roomNotifications(db, userId, roomId, options);
    if (rows.length === 0) continue;
    const read = await readUpTo(db, userId, roomId);
    for (const row of rows) all.push({ ...row, read: Number(row.stream_position) <= read });
  }
  return newestFirst(all).slice(0, options.limit);
}

function newestFirst<T extends { stream_position: number }>(rows: T[]): T[] {
  return rows.sort((a, b) => Number(b.stream_position) - Number(a.stream_position));
}

/** One room's newest `limit` notifications of the user before `before`. */
async function roomNotifications(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  options: { before: number; limit: number; onlyHighlights: boolean },
): Promise<ListedAction[]> {
  const { limit, onlyHighlights } = options;
  const found = await ownActionsBefore(db, userId, roomId, options.before, limit, onlyHighlights);
  const stretches = joinedStretches(await membershipHistory(db, userId, roomId));
  let shared = 0;
  for (const stretch of stretches.reverse()) {
    let before = Math.min(stretch.before, options.before);
    while (shared < limit && before > stretch.after) {
      const range = { after: stretch.after, before };
      const rows = await sharedActionsBetween(db, roomId, userId, range, limit, onlyHighlights);
      const oldest = rows.at(-1);
      if (oldest === undefined) break;
      const newest = Number(rows[0]?.stream_position);
      const overridden = await ownPositionsBetween(
        db,
        userId,
        roomId,
        Number(oldest.stream_position),
        newest,
      );
      for (const row of rows) {
        if (overridden.has(Number(row.stream_position))) continue;
        found.push(row);
        shared++;
      }
      if (rows.length < limit) break;
      before = Number(oldest.stream_position);
    }
    if (shared >= limit) break;
  }
  return newestFirst(found).slice(0, limit);
}

/**
 * The stretches of stream positions (`after`, `before`) in which the user was joined: from a
 * join to their next membership that is not a join (the state an event was stored with already
 * had that membership: push evaluation runs after it is stored).
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
      stretches.push({ after: joinedAt, before: position });
      joinedAt = undefined;
    }
  }
  if (joinedAt !== undefined) stretches.push({ after: joinedAt, before: Number.MAX_SAFE_INTEGER });
  return stretches;
}
