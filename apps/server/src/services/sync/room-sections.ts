/**
 * The per-room parts of a `/sync` response (client-server-api "Syncing", `GET /sync`):
 * `rooms.join`, `rooms.invite`, `rooms.knock` and `rooms.leave` entries, built from the rooms
 * service's timelines, state and memberships plus ephemeral typing and receipts.
 *
 * State follows the spec's rule for `state` (not `state_after`): on an initial sync, with
 * `full_state`, or for a room the user joined since the token, the full state at the start of
 * the timeline; otherwise the state that changed between the token and the start of the
 * timeline (empty unless the timeline is limited or filtered).
 */
import { stateKeyOf } from '@weft/dag';

import type { AuthenticatedUser } from '../core/context.ts';
import type { ReceiptService } from '../receipts/service.ts';
import { withRelationBundle } from '../relations/relation.ts';
import { filterEventsForUser, stateEventsForUser } from '../rooms/event-visibility.ts';
import {
  type RoomService,
  type RoomState,
  roomToken,
  type StoredEvent,
  type TimelineSlice,
} from '../rooms/index.ts';
import type { TypingService } from '../typing/service.ts';
import { plainEventMatches, type SyncFilter, storedEventMatches } from './filter.ts';
import { heroes, memberCounts } from './store.ts';
import type { SyncToken } from './token.ts';

/** Room-level account data events for one room (supplied by the account-data owner). */
export type RoomAccountDataLookup = (
  userId: string,
  roomId: string,
  from: number,
  to: number,
) => Promise<{ type: string; content: unknown }[]>;

/** What every room section of one sync response shares. */
export interface RoomSectionContext {
  readonly rooms: RoomService;
  readonly typing: TypingService;
  readonly receipts: ReceiptService;
  readonly user: AuthenticatedUser;
  readonly since: SyncToken | undefined;
  readonly to: number;
  readonly filter: SyncFilter;
  readonly fullState: boolean;
  /** Rooms with receipts written in (since, to] (any receipts, for an initial sync). */
  readonly receiptRooms: ReadonlySet<string>;
  /** Rooms with room account data written in (since, to] (any, for an initial sync). */
  readonly accountDataRooms: ReadonlySet<string>;
  /** The token predates this process: resend every room's typing list. */
  readonly typingReset: boolean;
  readonly roomAccountData: RoomAccountDataLookup;
  /** Rooms' `unread_notifications` (from push evaluation, services/push). */
  readonly unreadNotifications: UnreadNotificationLookup | undefined;
  /**
   * The users the syncing user ignores (spec "Ignoring Users"): their non-state timeline events
   * and typing are left out. `undefined` when none, the common case, which checks nothing.
   */
  readonly ignored: ReadonlySet<string> | undefined;
  /**
   * Bundled aggregations (services/relations) of a room's events as the user sees them at a
   * position: asked only for `limited` timelines (spec "Aggregations of child events": /sync
   * bundles; a client that saw the whole range has the children already).
   */
  readonly relationBundles?: RelationBundleLookup | undefined;
  /**
   * The room's last `limit` events in (`from`, `to`] from memory (recent-events.ts), or
   * `undefined` when memory cannot tell: then the rooms service's timeline is read.
   */
  readonly recentTimeline:
    | ((
        roomId: string,
        from: number,
        to: number,
        limit: number,
      ) => Promise<TimelineSlice | undefined>)
    | undefined;
}

/** Event ID → `unsigned["m.relations"]` of the events of `roomId` that have any. */
export type RelationBundleLookup = (
  roomId: string,
  userId: string,
  events: readonly StoredEvent[],
  bound: number,
) => Promise<ReadonlyMap<string, Record<string, unknown>>>;

/**
 * Rooms' unread notification and highlight counts as of stream position `to`, by room; with
 * `threads`, the main timeline's, and in `threads` those of the threads with unread
 * notifications by root. Asked once for every joined room of a response (per-thread counts are
 * one query for them all, not one per room).
 */
export type UnreadNotificationLookup = (
  userId: string,
  roomIds: readonly string[],
  to: number,
  threads: boolean,
) => Promise<
  ReadonlyMap<
    string,
    {
      notification_count: number;
      highlight_count: number;
      threads?: Record<string, { notification_count: number; highlight_count: number }>;
    }
  >
>;

interface TimelineWindow {
  readonly events: StoredEvent[];
  readonly limited: boolean;
  /** Events in range were left out by the filter (state may hide among them). */
  readonly filtered: boolean;
  readonly prevBatch: string;
}

/**
 * The last `limit` events of the room passing the timeline filter with positions in
 * (`from`, `to`]; `limited` when more matching events were in that range.
 */
async function timelineWindow(
  ctx: RoomSectionContext,
  roomId: string,
  from: number,
  to: number,
): Promise<TimelineWindow> {
  const { rooms, filter, ignored } = ctx;
  const limit = filter.timelineLimit;
  const kept: StoredEvent[] = [];
  let limited = false;
  let filtered = false;
  let upper = to;
  const batch = Math.max(1, limit) * (Object.keys(filter.timeline).length > 0 ? 2 : 1);
  // A selective filter may skip much history; after this many batches the rest counts as a gap.
  let batches = 0;
  scan: for (;;) {
    const slice =
      (await ctx.recentTimeline?.(roomId, from, upper, batch)) ??
      (await rooms.timeline(roomId, { fromPosition: from, toPosition: upper, limit: batch }));
    for (let i = slice.events.length - 1; i >= 0; i--) {
      const event = slice.events[i] as StoredEvent;
      // An ignored sender's message is skipped as if never sent: no state hides behind it.
      if (ignored !== undefined && event.stateKey === undefined && ignored.has(event.sender)) {
        continue;
      }
      if (!storedEventMatches(event, filter.timeline)) {
        filtered = true;
        continue;
      }
      if (kept.length >= limit) {
        limited = true;
        break scan;
      }
      kept.unshift(event);
    }
    const first = slice.events[0]?.streamPosition;
    if (!slice.limited || first === undefined || first === null) break;
    if (kept.length >= limit && !filtered) {
      limited = true;
      break;
    }
    if (++batches >= 8) {
      limited = true;
      break;
    }
    upper = first - 1;
  }
  const first = kept[0]?.streamPosition;
  return {
    events: kept,
    limited,
    filtered,
    prevBatch: roomToken(first !== undefined && first !== null ? first - 1 : to),
  };
}

/** The events of `ids`, passing the state filter, in a stable order. */
async function stateEventsOf(
  ctx: RoomSectionContext,
  ids: Iterable<string>,
): Promise<StoredEvent[]> {
  const events = [...(await ctx.rooms.getEvents([...ids])).values()];
  return events
    .filter((event) => storedEventMatches(event, ctx.filter.state))
    .sort((a, b) => (a.streamPosition ?? 0) - (b.streamPosition ?? 0));
}

/** State at the start of a timeline: after the event just before its first event. */
function stateAtStart(
  ctx: RoomSectionContext,
  roomId: string,
  window: TimelineWindow,
  end: number,
): Promise<RoomState> {
  const first = window.events[0]?.streamPosition;
  return ctx.rooms.stateAtPosition(roomId, first !== undefined && first !== null ? first - 1 : end);
}

/**
 * The `state` section: full (initial-like) or the delta since the token; with lazy-loaded
 * members (spec "Lazy-loading room members"), member events only for the timeline's senders,
 * the user and the heroes — except that a limited incremental sync keeps every member change
 * of the gap, as the spec requires.
 */
async function stateSection(
  ctx: RoomSectionContext,
  roomId: string,
  window: TimelineWindow,
  end: number,
  initialLike: boolean,
  heroIds: readonly string[],
): Promise<StoredEvent[]> {
  const needsDelta = !initialLike && (window.limited || window.filtered);
  if (!initialLike && !needsDelta && !ctx.filter.lazyLoadMembers) return [];
  const atStart = await stateAtStart(ctx, roomId, window, end);
  let ids: string[];
  if (initialLike) {
    ids = [...atStart.values()];
  } else if (needsDelta) {
    const before = await ctx.rooms.stateAtPosition(roomId, ctx.since?.position ?? 0);
    ids = [...atStart].filter(([key, id]) => before.get(key) !== id).map(([, id]) => id);
  } else {
    ids = [];
  }
  let events = await stateEventsOf(ctx, ids);
  // An erased user's member events as the timeline serves them (a later joiner gets them
  // redacted there, so not in full here either).
  const served = (state: readonly StoredEvent[]) =>
    stateEventsForUser(ctx.rooms.ctx.db, roomId, ctx.user.userId, state);
  if (!ctx.filter.lazyLoadMembers) return served(events);
  const wanted = new Set(window.events.map((event) => event.sender));
  for (const hero of heroIds) wanted.add(hero);
  if (initialLike) wanted.add(ctx.user.userId);
  const inTimeline = new Set(window.events.map((event) => event.eventId));
  if (initialLike) {
    events = events.filter(
      (event) => event.type !== 'm.room.member' || wanted.has(event.stateKey ?? ''),
    );
  }
  // Senders whose member event the client may not have yet (sent even if redundant).
  const have = new Set(events.map((event) => event.eventId));
  const extra: string[] = [];
  for (const sender of wanted) {
    const id = atStart.get(stateKeyOf('m.room.member', sender));
    if (id !== undefined && !have.has(id) && !inTimeline.has(id)) extra.push(id);
  }
  if (extra.length > 0 && !initialLike) events = events.concat(await stateEventsOf(ctx, extra));
  return served(events);
}

function clientEvents(ctx: RoomSectionContext, events: readonly StoredEvent[]) {
  return events.map((event) =>
    ctx.rooms.clientEvent(event, { includeRoomId: false, viewer: ctx.user }),
  );
}

/**
 * `timeline.events`: the window's events in the client format, with their bundled aggregations
 * (as seen at `bound`) when the timeline is `limited`; a timeline that is not is served as is.
 */
async function timelineEvents(
  ctx: RoomSectionContext,
  roomId: string,
  window: TimelineWindow,
  bound: number,
): Promise<Record<string, unknown>[]> {
  const out = clientEvents(ctx, window.events);
  if (!window.limited || ctx.relationBundles === undefined || window.events.length === 0) {
    return out;
  }
  const bundles = await ctx.relationBundles(roomId, ctx.user.userId, window.events, bound);
  window.events.forEach((event, i) => {
    const served = out[i];
    if (served !== undefined) withRelationBundle(served, bundles.get(event.eventId));
  });
  return out;
}

/** `ephemeral.events` of a joined room: `m.typing` and `m.receipt` when they changed. */
async function ephemeralEvents(
  ctx: RoomSectionContext,
  roomId: string,
  initialLike: boolean,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  // The typing list only when it is sent (sorting it for every answer was garbage).
  const initialTyping =
    ctx.since === undefined || initialLike ? ctx.typing.typingIn(roomId) : undefined;
  const typingChanged =
    initialTyping !== undefined
      ? initialTyping.length > 0
      : ctx.typingReset || ctx.typing.roomSerial(roomId) > (ctx.since?.typing ?? 0);
  if (typingChanged) {
    const typingUsers = initialTyping ?? ctx.typing.typingIn(roomId);
    const ignored = ctx.ignored;
    out.push({
      type: 'm.typing',
      content: {
        user_ids: ignored === undefined ? typingUsers : typingUsers.filter((u) => !ignored.has(u)),
      },
    });
  }
  if (initialLike || ctx.since === undefined) {
    // In an initial sync `receiptRooms` lists every room with receipts: others skip the query.
    const none = ctx.since === undefined && !ctx.receiptRooms.has(roomId);
    const receipt = none
      ? undefined
      : await ctx.receipts.receiptEvent(roomId, ctx.user.userId, 0, ctx.to, ctx.ignored);
    if (receipt !== undefined) out.push(receipt);
  } else if (ctx.receiptRooms.has(roomId)) {
    const receipt = await ctx.receipts.receiptEvent(
      roomId,
      ctx.user.userId,
      ctx.since.position,
      ctx.to,
      ctx.ignored,
    );
    if (receipt !== undefined) out.push(receipt);
  }
  if (out.length === 0) return out;
  return out.filter((event) =>
    plainEventMatches({ type: String(event['type']) }, ctx.filter.ephemeral),
  );
}

async function accountDataEvents(ctx: RoomSectionContext, roomId: string, initialLike: boolean) {
  const from = initialLike || ctx.since === undefined ? 0 : ctx.since.position;
  // `accountDataRooms` covers (since, to] — all of it for an initial sync — so when that is the
  // range needed here, a room outside it has nothing.
  const covered = ctx.since === undefined || !initialLike;
  if (covered && !ctx.accountDataRooms.has(roomId)) return [];
  const events = await ctx.roomAccountData(ctx.user.userId, roomId, from, ctx.to);
  return events.filter((event) => plainEventMatches(event, ctx.filter.roomAccountData));
}

/** Spec "RoomSummary": heroes only when the room has no name or canonical alias. */
async function summary(ctx: RoomSectionContext, roomId: string): Promise<Record<string, unknown>> {
  const counts = await memberCounts(ctx.rooms.ctx.db, roomId);
  const out: Record<string, unknown> = {
    'm.joined_member_count': counts.joined,
    'm.invited_member_count': counts.invited,
  };
  const named = async (type: string, field: string) => {
    const event = await ctx.rooms.currentStateEvent(roomId, type, '');
    const value = (event?.pdu['content'] as Record<string, unknown> | undefined)?.[field];
    return typeof value === 'string' && value !== '';
  };
  if (!(await named('m.room.name', 'name')) && !(await named('m.room.canonical_alias', 'alias'))) {
    out['m.heroes'] = await heroes(ctx.rooms.ctx.db, roomId, ctx.user.userId);
  }
  return out;
}

/** The window without the events the user may not see (history visibility at each event). */
async function visibleWindow(
  ctx: RoomSectionContext,
  roomId: string,
  window: TimelineWindow,
  joinedAt?: number,
): Promise<TimelineWindow> {
  const db = ctx.rooms.ctx.db;
  const events = await filterEventsForUser(db, roomId, ctx.user.userId, window.events, joinedAt);
  if (events.length < window.events.length) return { ...window, events, filtered: true };
  // The same events, though an erased sender's may have come back as a redacted copy.
  return events.every((event, i) => event === window.events[i]) ? window : { ...window, events };
}

/**
 * A `rooms.join` entry, or `undefined` on an incremental sync when nothing in the room changed.
 * `newlyJoined`: the user was not joined at the token; `joinedAt`: the position of the join
 * that is the user's membership as of `ctx.to`. Its unread counts come after, for all the
 * rooms together (`addUnreadSections`).
 */
export async function joinedRoom(
  ctx: RoomSectionContext,
  roomId: string,
  newlyJoined: boolean,
  joinedAt: number,
): Promise<Record<string, unknown> | undefined> {
  const initialLike = ctx.since === undefined || ctx.fullState || newlyJoined;
  const from = ctx.since?.position ?? 0;
  const timeline = await timelineWindow(ctx, roomId, from, ctx.to);
  const window = await visibleWindow(ctx, roomId, timeline, joinedAt);
  const ephemeral = await ephemeralEvents(ctx, roomId, initialLike);
  const accountData = await accountDataEvents(ctx, roomId, initialLike);
  const changed = window.events.length > 0 || window.filtered || ephemeral.length > 0;
  if (!initialLike && !changed && accountData.length === 0) return undefined;
  // The summary's fields "may be omitted" when unchanged since the last sync (spec RoomSummary):
  // with no state event in the range, counts and heroes are as the client already has them.
  const stateUnchanged =
    !initialLike &&
    !window.limited &&
    !window.filtered &&
    window.events.every((event) => event.stateKey === undefined);
  const roomSummary = stateUnchanged ? {} : await summary(ctx, roomId);
  const heroIds = (roomSummary['m.heroes'] as string[] | undefined) ?? [];
  const state = await stateSection(ctx, roomId, window, ctx.to, initialLike, heroIds);
  return {
    summary: roomSummary,
    state: { events: clientEvents(ctx, state) },
    timeline: {
      events: await timelineEvents(ctx, roomId, window, ctx.to),
      limited: window.limited,
      prev_batch: window.prevBatch,
    },
    ephemeral: { events: ephemeral },
    account_data: { events: accountData },
  };
}

/**
 * Completes the `rooms.join` entries of a response (`joinedRoom`'s, by room ID) with their
 * `unread_notifications`, and with the filter's `unread_thread_notifications` the threads'
 * counts (`unread_thread_notifications`, only threads with any, left out if none): asked for
 * all the rooms at once.
 */
export async function addUnreadSections(
  ctx: RoomSectionContext,
  join: Readonly<Record<string, Record<string, unknown>>>,
): Promise<void> {
  const roomIds = Object.keys(join);
  if (roomIds.length === 0) return;
  const threads = ctx.filter.unreadThreadNotifications;
  const unread = await ctx.unreadNotifications?.(ctx.user.userId, roomIds, ctx.to, threads);
  for (const roomId of roomIds) {
    const room = join[roomId] as Record<string, unknown>;
    const counts = unread?.get(roomId);
    room['unread_notifications'] = {
      notification_count: counts?.notification_count ?? 0,
      highlight_count: counts?.highlight_count ?? 0,
    };
    if (counts?.threads !== undefined) room['unread_thread_notifications'] = counts.threads;
  }
}

/**
 * A `rooms.leave` entry for a room the user left (or was kicked or banned from) at
 * `leaveEvent`: the timeline up to that event. A user who was never joined (a rejected invite
 * or a withdrawn knock) only gets the membership event itself.
 */
export async function leftRoom(
  ctx: RoomSectionContext,
  roomId: string,
  leaveEvent: StoredEvent,
  wasJoinedAtToken: boolean,
): Promise<Record<string, unknown>> {
  const end = leaveEvent.streamPosition ?? ctx.to;
  const previous = (leaveEvent.unsigned?.['prev_content'] as Record<string, unknown> | undefined)?.[
    'membership'
  ];
  const accountData = await accountDataEvents(ctx, roomId, ctx.since === undefined);
  if (previous !== 'join' && !wasJoinedAtToken) {
    return {
      state: { events: [] },
      timeline: {
        events: clientEvents(ctx, [leaveEvent]),
        limited: false,
        prev_batch: roomToken(end - 1),
      },
      account_data: { events: accountData },
    };
  }
  const initialLike = ctx.since === undefined || ctx.fullState || !wasJoinedAtToken;
  const window = await visibleWindow(
    ctx,
    roomId,
    await timelineWindow(ctx, roomId, ctx.since?.position ?? 0, end),
  );
  const state = await stateSection(ctx, roomId, window, end, initialLike, []);
  return {
    state: { events: clientEvents(ctx, state) },
    timeline: {
      events: await timelineEvents(ctx, roomId, window, end),
      limited: window.limited,
      prev_batch: window.prevBatch,
    },
    account_data: { events: accountData },
  };
}

/** A `rooms.invite` (or `rooms.knock`) entry: the room's stripped state. */
export async function strippedRoom(
  ctx: RoomSectionContext,
  roomId: string,
  kind: 'invite' | 'knock',
): Promise<Record<string, unknown>> {
  const events = await ctx.rooms.strippedState(roomId, ctx.user.userId);
  return kind === 'invite' ? { invite_state: { events } } : { knock_state: { events } };
}
