/**
 * History visibility per event (client-server-api "History visibility",
 * https://spec.matrix.org/v1.19/client-server-api/#history-visibility): whether a user (or
 * another server) may see an event depends on the `m.room.history_visibility` *at that event*
 * and on their membership at that event, not on today's setting. The spec's rules for a user:
 *
 * 1. `world_readable` at the event: allow;
 * 2. the user's membership at the event was `join`: allow;
 * 3. `shared` at the event, and the user joined at any point after it: allow;
 * 4. `invited` at the event, and the user's membership at the event was `invite`: allow;
 * 5. otherwise deny.
 *
 * For a server, the same rules hold for its users (client-server-api "History visibility" →
 * "Server behaviour": a server may see what one of its users could): `world_readable` events
 * are visible; `shared` ones when one of its users was joined at the event or joined at any
 * point after it; `invited`/`joined` ones only when one of them was joined (or, for `invited`,
 * invited) at the event. A knock, a ban or a leave shows nothing. Hidden events are served
 * redacted (federation/visibility.ts), so the DAG stays connected.
 *
 * "At the event" is read along the stream: the last visibility event and the user's last
 * membership at or before the event's stream position (a member event of theirs, or a membership
 * state resolution left without one: room-store.ts `membershipHistory`). For the
 * history-visibility event itself the more permissive of the old and new setting counts (as in
 * Synapse), so a change is visible to those who could see either side of it.
 *
 * Erased senders (client-server-api "POST /account/deactivate", `erase`; erased-senders.ts):
 * "users (or servers) which join the room after the erasure request are served redacted copies
 * of the events sent by this account. Users which had visibility on those events prior to the
 * erasure are still able to see unredacted copies." A viewer sees such an event in full when the
 * rules above, applied to their membership history up to the erasure, let them see it as a
 * member: `world_readable` counts as `shared` there, since who read a world-readable room
 * without joining it is not recorded. So a member joined at the event, or (under `shared`)
 * joined after it but by the erasure, keeps the full event; everyone else — later joiners, and
 * peekers of a world-readable room — gets the redacted copy. A server sees it in full when one
 * of its users would. Synapse applies a coarser rule (in full only to a member joined at the
 * event; servers always redacted); the spec's "had visibility prior to the erasure" is this one.
 * The same rule, on the event that carries it, covers the erased user's content in others'
 * events (an invite's copy of their profile, a `prev_content` copy of their state event) and in
 * the state served at an earlier point (`stateEventsForUser`).
 */
import { parseAnyJson } from '@weft/canonical-json';
import type { SqlExecutor } from '../../storage/index.ts';
import {
  type ErasedSenders,
  erasedCopy,
  erasedPrevSender,
  erasedSenders,
  withoutProfile,
  withRedactedPrevContent,
} from './erased-senders.ts';
import { isLocalUser } from './local-user.ts';
import { membershipHistoriesInRoom, membershipHistory } from './room-store.ts';
import type { StoredEvent } from './types.ts';

type Visibility = 'world_readable' | 'shared' | 'invited' | 'joined';

/** Most permissive first. */
const ORDER: readonly Visibility[] = ['world_readable', 'shared', 'invited', 'joined'];

function asVisibility(value: unknown): Visibility {
  // Spec: an unknown or absent value is treated as `shared`.
  return ORDER.includes(value as Visibility) ? (value as Visibility) : 'shared';
}

interface Change<T> {
  readonly position: number;
  readonly value: T;
}

/** The value of the last change at or before `position` (`fallback` before the first). */
function valueAt<T>(changes: readonly Change<T>[], position: number, fallback: T): T {
  let value = fallback;
  for (const change of changes) {
    if (change.position > position) break;
    value = change.value;
  }
  return value;
}

async function visibilityChanges(db: SqlExecutor, roomId: string): Promise<Change<Visibility>[]> {
  const rows = await db.query<{ stream_position: number; pdu: string }>(
    `SELECT stream_position, pdu FROM events
      WHERE room_id = $1 AND type = 'm.room.history_visibility' AND state_key = ''
        AND stream_position IS NOT NULL
      ORDER BY stream_position`,
    [roomId],
  );
  return rows.map((row) => ({
    position: Number(row.stream_position),
    value: asVisibility(
      (parseAnyJson(row.pdu) as { content?: Record<string, unknown> }).content?.[
        'history_visibility'
      ],
    ),
  }));
}

/**
 * The user's membership changes in the room, oldest first. An entry at position p is their
 * membership as stored with the event at p, so it governs that event itself (`valueAt` reads "at
 * or before"): a member event's own membership, or, from `resolved_memberships`, the membership
 * state resolution left once the event at p was accepted — kicked out by a winning fork, the
 * user does not see the event that made it win; brought back, they do. The notification list
 * reads the same history the same way (notification-list.ts `joinedStretches`: a stretch holds
 * its join's position, a leave at p ends it before p).
 */
async function membershipChanges(
  db: SqlExecutor,
  roomId: string,
  userId: string,
): Promise<Change<string>[]> {
  return (await membershipHistory(db, userId, roomId)).map(({ position, membership }) => ({
    position,
    value: String(membership),
  }));
}

/** The visibility that governs `event` (see the module comment on the visibility event). */
function visibilityOf(changes: readonly Change<Visibility>[], event: StoredEvent): Visibility {
  const position = event.streamPosition ?? Number.MAX_SAFE_INTEGER;
  const after = valueAt(changes, position, 'shared');
  if (event.type !== 'm.room.history_visibility' || event.stateKey !== '') return after;
  const before = valueAt(changes, position - 1, 'shared');
  return ORDER.indexOf(before) < ORDER.indexOf(after) ? before : after;
}

/**
 * Whether a member with these membership changes may see an event at `position` under
 * `visibility` (rules 2–4; `world_readable` as `shared`), counting only the changes at or before
 * `upTo`: the end of the stream, or an erasure.
 */
function memberMaySee(
  changes: readonly Change<string>[],
  visibility: Visibility,
  position: number,
  upTo = Number.MAX_SAFE_INTEGER,
): boolean {
  const membership = valueAt(changes, Math.min(position, upTo), 'leave');
  if (membership === 'join') return true;
  if (visibility === 'shared' || visibility === 'world_readable') {
    // Rule 3: the user joined at some point after the event.
    return changes.some((m) => m.value === 'join' && m.position > position && m.position <= upTo);
  }
  return visibility === 'invited' && membership === 'invite';
}

/**
 * The erasure positions of the erased users whose content `event` carries: its sender; the user
 * a member event is about (an invite copies the invitee's profile into it, rooms/membership.ts);
 * the sender of the state event it replaced (`unsigned.prev_content`).
 */
function erasuresIn(event: StoredEvent, erased: ErasedSenders): number[] {
  if (erased.size === 0) return [];
  const subject = event.type === 'm.room.member' ? erased.get(event.stateKey ?? '') : undefined;
  return [erased.get(event.sender), subject, erasedPrevSender(event, erased)].filter(
    (at) => at !== undefined,
  );
}

/**
 * `event` as served to a member with these membership changes (module comment, erased senders):
 * each erased user's content in it is kept when the member could see the event before that
 * erasure, redacted otherwise — the whole event for an erased sender, the profile for a member
 * event about an erased user sent by another (an invite), the `prev_content` copied from an
 * erased sender's state event. For `prev_content` the event that replaced it counts: a member
 * who could see it before the erasure was served the replaced content as the room's state then.
 */
function erasureView(
  event: StoredEvent,
  memberships: readonly Change<string>[],
  visibility: Visibility,
  erased: ErasedSenders,
): StoredEvent {
  const position = event.streamPosition ?? Number.MAX_SAFE_INTEGER;
  const hidden = (erasedAt: number | undefined) =>
    erasedAt !== undefined && !memberMaySee(memberships, visibility, position, erasedAt);
  if (hidden(erased.get(event.sender))) return erasedCopy(event);
  let shown = event;
  if (event.type === 'm.room.member' && hidden(erased.get(event.stateKey ?? ''))) {
    shown = withoutProfile(shown);
  }
  if (hidden(erasedPrevSender(event, erased))) shown = withRedactedPrevContent(shown);
  return shown;
}

/**
 * The state events `events` (all of `roomId`) as `userId` is served them as the room's state at
 * some point: a sync's `state`, lazy-loaded members of `/messages` and `/context`, `/members`,
 * search's `profile_info`. Not filtered by history visibility (the caller serves only a state
 * the user may see), but an erased user's content in them comes back redacted as in the
 * timeline (`erasureView`): a later joiner gets no display name of the erased user from the
 * state at an earlier point either.
 */
export async function stateEventsForUser(
  db: SqlExecutor,
  roomId: string,
  userId: string,
  events: readonly StoredEvent[],
): Promise<StoredEvent[]> {
  const erased = await erasedSenders(db);
  if (!events.some((event) => erasuresIn(event, erased).length > 0)) return [...events];
  const memberships = await membershipChanges(db, roomId, userId);
  const visibilities = await visibilityChanges(db, roomId);
  return events.map((event) =>
    erasureView(event, memberships, visibilityOf(visibilities, event), erased),
  );
}

/**
 * Keeps the events `userId` may see (`events` all of `roomId`), in order. An erased sender's
 * event comes back as its redacted copy (erased-senders.ts `erasedCopy`) unless the user could
 * see it before the erasure (module comment): serve the returned events, not the ones passed in.
 */
export async function filterEventsForUser(
  db: SqlExecutor,
  roomId: string,
  userId: string,
  events: readonly StoredEvent[],
  joinedAt?: number,
): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  const erased = await erasedSenders(db);
  // Common case first, from the membership row alone: a member whose current membership (a
  // join) is older than every one of the events sees them all (rule 2). `joinedAt`: the caller
  // knows the user was joined from that position through the last of the events (`/sync`).
  const current =
    joinedAt !== undefined
      ? { membership: 'join', stream_position: joinedAt }
      : await db.queryOne<{ membership: string; stream_position: number }>(
          'SELECT membership, stream_position FROM room_memberships WHERE room_id = $1 AND user_id = $2',
          [roomId, userId],
        );
  if (
    current?.membership === 'join' &&
    events.every((event) => (event.streamPosition ?? 0) >= Number(current.stream_position))
  ) {
    // Joined since before an erasure, the user saw its sender's events in full; an erasure
    // before this join needs the whole membership history (below).
    const joined = Number(current.stream_position);
    const erasedBefore = (event: StoredEvent) =>
      erasuresIn(event, erased).some((erasedAt) => erasedAt < joined);
    if (erased.size === 0 || !events.some(erasedBefore)) return [...events];
  }
  const memberships = await membershipChanges(db, roomId, userId);
  const visibilities = await visibilityChanges(db, roomId);
  const shown: StoredEvent[] = [];
  for (const event of events) {
    const position = event.streamPosition ?? Number.MAX_SAFE_INTEGER;
    const visibility = visibilityOf(visibilities, event);
    // A user's own membership events concern them: they always see those.
    const own = event.type === 'm.room.member' && event.stateKey === userId;
    if (
      !own &&
      visibility !== 'world_readable' &&
      !memberMaySee(memberships, visibility, position)
    ) {
      continue;
    }
    shown.push(erasureView(event, memberships, visibility, erased));
  }
  return shown;
}

/** The membership histories in `roomId` of `serverName`'s users. */
async function serverMemberships(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
): Promise<Change<string>[][]> {
  const users = await db.query<{ user_id: string }>(
    'SELECT user_id FROM room_memberships WHERE room_id = $1',
    [roomId],
  );
  // The server's users' membership histories, a chunked IN list at a time (not a statement per
  // user: a big server asking for events one /event at a time would cost thousands each).
  const histories = await membershipHistoriesInRoom(
    db,
    roomId,
    users.map((row) => row.user_id).filter((userId) => isLocalUser(userId, serverName)),
  );
  return [...histories.values()].map((history) =>
    history.map(({ position, membership }) => ({ position, value: String(membership) })),
  );
}

/**
 * Whether `event` carries an erased user's content (its sender's, or, in another's member event
 * about them, their profile) that none of the server's users could see before the erasure. The
 * server gets the whole PDU redacted then: a copy with only the profile removed would match
 * neither the event's hashes nor its redaction.
 */
function erasedForServer(
  event: StoredEvent,
  memberships: readonly (readonly Change<string>[])[],
  visibility: Visibility,
  erased: ErasedSenders,
): boolean {
  const position = event.streamPosition ?? Number.MAX_SAFE_INTEGER;
  const subject = event.type === 'm.room.member' ? erased.get(event.stateKey ?? '') : undefined;
  return [erased.get(event.sender), subject].some(
    (erasedAt) =>
      erasedAt !== undefined &&
      !memberships.some((changes) => memberMaySee(changes, visibility, position, erasedAt)),
  );
}

/**
 * How `serverName` may see each event, by event ID: in full; `erased`, an event carrying an
 * erased user's content none of its users could see before the erasure (`erasedForServer`); or
 * `hidden` by history visibility (the module comment). Only the first is served unredacted.
 */
export async function eventViewsForServer(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
  events: readonly StoredEvent[],
): Promise<Map<string, 'full' | 'erased' | 'hidden'>> {
  const erased = await erasedSenders(db);
  const visibilities = await visibilityChanges(db, roomId);
  const memberships = await serverMemberships(db, roomId, serverName);
  const views = new Map<string, 'full' | 'erased' | 'hidden'>();
  for (const event of events) {
    const visibility = visibilityOf(visibilities, event);
    const position = event.streamPosition ?? Number.MAX_SAFE_INTEGER;
    const allowed =
      visibility === 'world_readable' ||
      memberships.some((changes) => memberMaySee(changes, visibility, position));
    const full = allowed && !erasedForServer(event, memberships, visibility, erased);
    views.set(event.eventId, full ? 'full' : allowed ? 'erased' : 'hidden');
  }
  return views;
}

/**
 * The IDs of the state or auth-chain events `events` (all of `roomId`) that `serverName` is
 * served redacted as a room's state (`/state`, `/event_auth`): not hidden by history visibility
 * (a server needs the state and auth chain to check events), but an erased user's content goes
 * out as in `eventViewsForServer`.
 */
export async function erasedStateForServer(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
  events: readonly StoredEvent[],
): Promise<Set<string>> {
  const erased = await erasedSenders(db);
  const carries = (event: StoredEvent) =>
    erased.has(event.sender) ||
    (event.type === 'm.room.member' && erased.has(event.stateKey ?? ''));
  if (!events.some(carries)) return new Set();
  const visibilities = await visibilityChanges(db, roomId);
  const memberships = await serverMemberships(db, roomId, serverName);
  return new Set(
    events
      .filter((event) =>
        erasedForServer(event, memberships, visibilityOf(visibilities, event), erased),
      )
      .map((event) => event.eventId),
  );
}

/**
 * Whether each event may be seen by `serverName` (in full or, for an erased sender, redacted),
 * by event ID.
 */
export async function eventVisibilityForServer(
  db: SqlExecutor,
  roomId: string,
  serverName: string,
  events: readonly StoredEvent[],
): Promise<Set<string>> {
  const views = await eventViewsForServer(db, roomId, serverName, events);
  return new Set([...views].flatMap(([eventId, view]) => (view === 'hidden' ? [] : [eventId])));
}
