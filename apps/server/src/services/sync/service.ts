/**
 * `/sync` (client-server-api "Syncing"): assembles a response from every service's changes
 * between the client's token and the current stream position, and long-polls — waiting on the
 * notifier (anything with a stream position) and the typing service — while an incremental sync
 * has nothing to return and its `timeout` has not passed.
 *
 * Response parts and where they come from:
 * - `rooms.join/invite/knock/leave`: room-sections.ts over the rooms service;
 * - `to_device`: services/to-device (delivered, then deleted when the next token comes back);
 * - `device_lists`, `device_one_time_keys_count`, `device_unused_fallback_key_types`:
 *   services/device-lists and services/e2e-keys (spec "Extensions to /sync" of E2EE);
 * - `account_data`: the account-data source set with {@link SyncService.setAccountDataSource};
 * - `presence`: the presence source set with {@link SyncService.setPresenceSource}, limited to
 *   users who share a room with the syncing user (and the user); `set_presence` marks the user
 *   as the request says (default `online`) when that differs from their current presence.
 */
import type { IgnoredUsersLookup } from '../account-data/ignored-users.ts';
import type { AuthenticatedUser, ServerContext } from '../core/context.ts';
import { currentStreamPosition } from '../core/stream.ts';
import type { DeviceListService } from '../device-lists/service.ts';
import type { E2eKeyService } from '../e2e-keys/service.ts';
import type { ReceiptService } from '../receipts/service.ts';
import {
  type RoomMembershipEntry,
  type RoomService,
  roomToken,
  type StoredEvent,
  type TimelineSlice,
} from '../rooms/index.ts';
import type { ToDeviceService } from '../to-device/service.ts';
import type { TypingService } from '../typing/service.ts';
import { AnswerPacing } from './answer-pacing.ts';
import { plainEventMatches, roomIncluded, type SyncFilter } from './filter.ts';
import { RecentRoomEvents } from './recent-events.ts';
import {
  addUnreadSections,
  joinedRoom,
  leftRoom,
  type RelationBundleLookup,
  type RoomAccountDataLookup,
  type RoomSectionContext,
  strippedRoom,
  type UnreadNotificationLookup,
} from './room-sections.ts';
import { membershipAt, membershipStateAt, roomsWithEventsBetween } from './store.ts';
import { formatSyncToken, type SyncToken } from './token.ts';

/** What one build's timelines read from memory (see the device-list shortcut in `#build`). */
interface SeenInMemory {
  /** Rooms whose every event in the range came from memory. */
  readonly complete: Set<string>;
  /** A member event was among them. */
  memberEvent: boolean;
}

/** A user's memberships as read at some moment, with the last position announced before it. */
interface KnownMemberships {
  readonly entries: readonly RoomMembershipEntry[];
  /** {@link memberRooms} of `entries`, worked out once. */
  readonly waitRooms: readonly string[];
  /** Every room of `entries`. */
  readonly roomIds: readonly string[];
  readonly announced: number;
}

/** What the room-only path has instead of a query's answer: no rooms. */
const NO_ROOMS: ReadonlySet<string> = new Set();

/** The rooms whose changes should wake a long-poll (joined, invited, knocking). */
function memberRooms(entries: readonly RoomMembershipEntry[]): string[] {
  return entries
    .filter((entry) => entry.membership !== 'leave' && entry.membership !== 'ban')
    .map((entry) => entry.roomId);
}

/** Users whose presence `/sync` keeps (≈ 100 bytes each); all are dropped at the bound. */
const PRESENCE_KEPT_USERS = 100_000;

/** Membership entries `/sync` keeps in memory, all users together (≈ 150 bytes each). */
const MEMBERSHIP_CACHE_ENTRIES = 50_000;

/** The longest a sync may wait (a client asking for more gets this). */
export const MAX_SYNC_TIMEOUT_MS = 300_000;

/** Account data as `/sync` reads it (the account-data service provides it). */
export interface AccountDataSource {
  /** Global account data events changed in (`from`, `to`] (all current ones for `from` 0). */
  global(userId: string, from: number, to: number): Promise<{ type: string; content: unknown }[]>;
  /** Room account data events of one room changed in (`from`, `to`]. */
  room: RoomAccountDataLookup;
  /** Rooms with room account data changed in (`from`, `to`]. */
  roomsChanged(userId: string, from: number, to: number): Promise<ReadonlySet<string>>;
}

const NO_ACCOUNT_DATA: AccountDataSource = {
  global: async () => [],
  room: async () => [],
  roomsChanged: async () => new Set(),
};

/** `m.presence` events as `/sync` reads them (the presence service provides them). */
export interface PresenceSource {
  /** Presence changes of every user in (`from`, `to`], oldest first. */
  presenceSince(
    from: number,
    to: number,
  ): Promise<{ type: string; sender: string; content: { presence: string } }[]>;
  /** The user's current presence state (`offline` when never set). */
  current(userId: string): Promise<string>;
  /** Sets the user's presence state. */
  set(userId: string, presence: 'online' | 'offline' | 'unavailable'): Promise<unknown>;
  /**
   * A sync of the user starts (its `set_presence` state): activity kept in memory; the returned
   * function is called when the sync ends.
   */
  syncStarted?(userId: string, presence: 'online' | 'offline' | 'unavailable'): () => void;
}

/** One `/sync` request, parsed. */
export interface SyncRequest {
  readonly since: SyncToken | undefined;
  readonly fullState: boolean;
  readonly timeoutMs: number;
  readonly filter: SyncFilter;
  /** `set_presence`; `undefined` = `online` (spec: "automatically marked as online"). */
  readonly setPresence?: 'online' | 'offline' | 'unavailable' | undefined;
  /** The client, to stop waiting when it goes away (absent: wait until a change or timeout). */
  readonly client?: LongPollClient | undefined;
}

/**
 * A long-polling client as far as waiting needs it. Not an `AbortSignal`: an `AbortController`
 * and its listeners cost ≈ 10–25 µs per long-poll (decision record of session 5), an
 * `EventEmitter` listener on the HTTP response < 1 µs.
 */
export interface LongPollClient {
  /** Whether it has gone (its connection closed). */
  gone(): boolean;
  /** Calls `listener` once when it goes; returns the function that stops listening. */
  onGone(listener: () => void): () => void;
}

/** The services a sync reads from. */
export interface SyncSources {
  readonly rooms: RoomService;
  readonly typing: TypingService;
  readonly receipts: ReceiptService;
  readonly toDevice: ToDeviceService;
  readonly e2eKeys: E2eKeyService;
  readonly deviceLists: DeviceListService;
}

/** `/sync`: response assembly and long-polling (see the module comment). */
export class SyncService {
  readonly #ctx: ServerContext;
  readonly #sources: SyncSources;
  #accountData: AccountDataSource = NO_ACCOUNT_DATA;
  #presence: PresenceSource | undefined;
  #unreadNotifications: UnreadNotificationLookup | undefined;
  #relationBundles: RelationBundleLookup | undefined;
  /** The users a user ignores (`m.ignored_user_list`); `undefined` for none, the common case. */
  #ignoredUsers: IgnoredUsersLookup | undefined;
  /**
   * The stream position when this process first served a sync: the notifier has heard every
   * change after it, none before. Read once, at the start of the first sync.
   */
  #firstPosition: Promise<number> | undefined;
  /** `#firstPosition` once read: every sync has it before anything asks `#notifierCovers`. */
  #firstPositionRead = Number.POSITIVE_INFINITY;
  /** Rooms' latest timeline events (recent-events.ts). */
  readonly #recent = new RecentRoomEvents();
  /** Users' memberships kept between requests (see `#memberships`). */
  readonly #membershipCache = new Map<string, KnownMemberships>();
  #membershipCacheEntries = 0;
  /** Users' presence as their last sync found or set it (see `#presenceHolds`). */
  readonly #presenceKept = new Map<
    string,
    { readonly state: string; readonly announced: number }
  >();
  /** Devices (`user\0device`) whose last to-device batch left messages behind. */
  readonly #toDeviceBacklog = new Set<string>();
  /** Holds busy devices' long-poll answers (`sync.answer_interval_ms`, answer-pacing.ts). */
  readonly #pacing: AnswerPacing;
  /** Devices' to-device tokens already passed to delivery (which deleted up to them). */
  readonly #toDeviceAcknowledged = new Map<string, number>();

  constructor(ctx: ServerContext, sources: SyncSources) {
    this.#ctx = ctx;
    this.#sources = sources;
    this.#pacing = new AnswerPacing(ctx.config.sync, this.#recent);
    sources.rooms.onTimelineEvent(async (tx, event) => {
      const position = event.streamPosition;
      if (position === null) return;
      tx.afterCommit(() => {
        this.#recent.add(event.roomId, position, event.eventId);
        this.#pacing.timelineEventCommitted(event.roomId);
      });
    });
  }

  /** Where `account_data` (global and per room) comes from. */
  setAccountDataSource(source: AccountDataSource): void {
    this.#accountData = source;
  }

  /** Where rooms' `unread_notifications` come from (push evaluation). */
  setUnreadNotificationSource(source: UnreadNotificationLookup): void {
    this.#unreadNotifications = source;
  }

  /** Where the bundled aggregations of `limited` timelines come from (services/relations). */
  setRelationBundles(source: RelationBundleLookup): void {
    this.#relationBundles = source;
  }

  /**
   * Where the users a user ignores come from (account data `m.ignored_user_list`, kept in
   * memory): their non-state timeline events, invites and typing are left out.
   */
  setIgnoredUsersSource(lookup: IgnoredUsersLookup): void {
    this.#ignoredUsers = lookup;
  }

  /** Where `presence` comes from (and where `set_presence` goes). */
  setPresenceSource(source: PresenceSource): void {
    this.#presence = source;
  }

  /**
   * Answers one `/sync`. An initial sync (no token) or a `full_state` sync answers at once; an
   * incremental one waits up to `timeoutMs` for something to return (spec: "If no events (or
   * other data) become available before this time elapses, the server will return a response
   * with empty fields").
   */
  async sync(user: AuthenticatedUser, request: SyncRequest): Promise<Record<string, unknown>> {
    // The presence idle / offline timeouts count the syncs in flight (presence/service.ts).
    const ended = this.#presence?.syncStarted?.(user.userId, request.setPresence ?? 'online');
    try {
      return await this.#sync(user, request);
    } finally {
      ended?.();
    }
  }

  async #sync(user: AuthenticatedUser, request: SyncRequest): Promise<Record<string, unknown>> {
    // The first sync of this process marks where the notifier's knowledge starts; later syncs
    // need no promise for it (an `await` per check was ≈ 2% of the sync load's allocations).
    if (this.#firstPositionRead === Number.POSITIVE_INFINITY) {
      // A failed read is forgotten, so the next sync asks again instead of failing until restart.
      this.#firstPosition ??= currentStreamPosition(this.#ctx.db).catch((error: unknown) => {
        this.#firstPosition = undefined;
        throw error;
      });
      this.#firstPositionRead = await this.#firstPosition;
    }
    const presence = this.#presence;
    const wanted = request.setPresence ?? 'online';
    if (presence !== undefined && !this.#presenceHolds(user.userId, wanted)) {
      const announced = this.#ctx.notifier.position;
      // Only a change is written: every write wakes other syncs.
      if ((await presence.current(user.userId)) !== wanted) await presence.set(user.userId, wanted);
      if (this.#presenceKept.size >= PRESENCE_KEPT_USERS) this.#presenceKept.clear();
      this.#presenceKept.set(user.userId, { state: wanted, announced });
    }
    const deadline =
      this.#ctx.now() + Math.min(Math.max(0, request.timeoutMs), MAX_SYNC_TIMEOUT_MS);
    // The device's key in the per-device maps (to-device backlog, acknowledgements, pacing).
    const deviceKey = `${user.userId}\u0000${user.deviceId}`;
    // A long-poll that comes back with its token usually finds nothing new: wait before building
    // rather than build an empty answer (≈ 14 queries) first.
    if (this.#quietSinceToken(request, deviceKey)) {
      const kept = this.#memberships(user.userId);
      const known = kept instanceof Promise ? await kept : kept;
      await this.#waitForChange(
        user,
        request,
        request.since as SyncToken,
        deadline - this.#ctx.now(),
        known.waitRooms,
      );
    }
    const paced = request.since !== undefined && !request.fullState && request.timeoutMs > 0;
    // Answer what there is: the timeout passed, the client went, or the server is stopping
    // (waiting would hold its shutdown).
    const over = () =>
      this.#ctx.now() >= deadline || request.client?.gone() === true || this.#ctx.notifier.stopped;
    for (;;) {
      if (paced) {
        const pause = this.#pace(user, deviceKey, request, deadline);
        if (pause !== undefined) {
          await pause;
          // Gone meanwhile: nothing to build (its answer would not be written).
          if (request.client?.gone() === true) {
            return { next_batch: formatSyncToken(request.since as SyncToken) };
          }
        }
      }
      const to = this.#announcedPosition(request) ?? (await currentStreamPosition(this.#ctx.db));
      const typingSerial = this.#sources.typing.serial;
      const built = await this.#build(user, deviceKey, request, to, typingSerial);
      if (request.since === undefined || request.fullState || built.hasContent) {
        if (paced) this.#pacing.answered(deviceKey);
        return built.body;
      }
      if (over()) return built.body;
      await this.#waitForChange(
        user,
        request,
        { position: to, typing: typingSerial },
        deadline - this.#ctx.now(),
        built.rooms,
      );
      // An empty response whose token is still valid; or build again from the new position.
      if (over()) return built.body;
    }
  }

  /**
   * The rest of this device's answer interval as a promise to wait on (answer-pacing.ts), or
   * `undefined` to answer now. Only tokens the notifier covers are held: the pause counts their
   * rooms' new events from what this process saw.
   */
  #pace(
    user: AuthenticatedUser,
    deviceKey: string,
    request: SyncRequest,
    deadline: number,
  ): Promise<void> | undefined {
    const since = (request.since as SyncToken).position;
    if (!this.#notifierCovers(since) || !this.#pacing.mayHold(deviceKey)) return undefined;
    const pause = (known: KnownMemberships) =>
      this.#pacing.pause(
        deviceKey,
        deadline - this.#ctx.now(),
        { rooms: known.waitRooms, since, timelineLimit: request.filter.timelineLimit },
        this.#ctx.notifier.position,
      );
    const kept = this.#memberships(user.userId);
    return kept instanceof Promise ? kept.then(pause) : pause(kept);
  }

  /**
   * Waits for a change that concerns this user after `after` (the notifier is keyed by user and
   * room, so other rooms' traffic does not wake this request) or for typing in one of its rooms;
   * resolves at once when one was announced already.
   */
  #waitForChange(
    user: AuthenticatedUser,
    request: SyncRequest,
    after: { readonly position: number; readonly typing: number },
    timeoutMs: number,
    rooms: readonly string[],
  ): Promise<void> {
    const client = request.client;
    if (timeoutMs <= 0 || client?.gone() === true) return Promise.resolve();
    return new Promise((resolve) => {
      let stopNotifier: (() => void) | undefined;
      let stopTyping: (() => void) | undefined;
      let stopClient: (() => void) | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Whichever comes first ends the wait and stops the others.
      const done = () => {
        clearTimeout(timer);
        stopNotifier?.();
        stopTyping?.();
        stopClient?.();
        resolve();
      };
      stopNotifier = this.#ctx.notifier.listen(
        after.position,
        { userId: user.userId, rooms },
        done,
      );
      if (stopNotifier === undefined) return resolve();
      stopTyping = this.#sources.typing.listen(after.typing, rooms, done);
      if (stopTyping === undefined) return done();
      stopClient = client?.onGone(done);
      timer = setTimeout(done, timeoutMs);
    });
  }

  /**
   * Whether the notifier alone can tell if anything changed for this request since its token,
   * so it may wait before building: an incremental, not `full_state`, long-polling sync whose
   * token lies between the first position this process saw and the last one announced (the
   * notifier remembers announcements of this process only), with a typing serial of this
   * process, and no to-device messages left over from a full batch.
   */
  #quietSinceToken(request: SyncRequest, deviceKey: string): boolean {
    const since = request.since;
    if (since === undefined || request.fullState || request.timeoutMs <= 0) return false;
    const typing = this.#sources.typing;
    if (since.typing < typing.startSerial || since.typing > typing.serial) return false;
    if (this.#toDeviceBacklog.has(deviceKey)) return false;
    return this.#notifierCovers(since.position) && since.position <= this.#ctx.notifier.position;
  }

  /**
   * The position an incremental sync answers up to: the last one announced, when the notifier
   * has heard everything since the token (every position up to an announced one is committed,
   * since writes commit in position order; a change not yet announced comes with the next
   * wake-up); otherwise (`undefined`), and for initial and `full_state` syncs, the database's.
   */
  #announcedPosition(request: SyncRequest): number | undefined {
    const since = request.since;
    const announced = this.#ctx.notifier.position;
    if (
      since !== undefined &&
      !request.fullState &&
      since.position <= announced &&
      this.#notifierCovers(since.position)
    ) {
      return announced;
    }
    return undefined;
  }

  /**
   * Whether `userId`'s presence is still `state` as their last sync left it, without asking the
   * presence service (every long-poll asks; its promises were ≈ 1.3% of the sync load's
   * allocations): a presence change announces its user (presence/service.ts), so nothing
   * announced for the user since then means no change.
   */
  #presenceHolds(userId: string, state: string): boolean {
    const kept = this.#presenceKept.get(userId);
    return (
      kept !== undefined &&
      kept.state === state &&
      this.#notifierCovers(kept.announced) &&
      this.#ctx.notifier.quietForUser(kept.announced, userId)
    );
  }

  /**
   * Whether the notifier heard every change after `position` (positions of this process; false
   * until the first sync has read where they start).
   */
  #notifierCovers(position: number): boolean {
    return position >= this.#firstPositionRead;
  }

  /**
   * `userId`'s memberships, and the last position announced before they were read: kept from an
   * earlier request while nothing was announced for the user since (a membership change
   * announces its target user, or broadcasts), else read again. Only `forgotten`, which changes
   * without an announcement, may be stale: `#build` re-reads it before it matters.
   */
  #memberships(userId: string): KnownMemberships | Promise<KnownMemberships> {
    const kept = this.#membershipCache.get(userId);
    if (
      kept !== undefined &&
      this.#notifierCovers(kept.announced) &&
      this.#ctx.notifier.quietForUser(kept.announced, userId)
    ) {
      // Kept memberships need no promise (every long-poll asks).
      return kept;
    }
    return this.#readMemberships(userId);
  }

  async #readMemberships(userId: string): Promise<KnownMemberships> {
    const announced = this.#ctx.notifier.position;
    const entries = await this.#sources.rooms.roomsForUser(userId);
    const roomIds = entries.map((entry) => entry.roomId);
    const known = { entries, waitRooms: memberRooms(entries), roomIds, announced };
    this.#forgetMemberships(userId);
    if (known.entries.length > MEMBERSHIP_CACHE_ENTRIES) return known;
    while (this.#membershipCacheEntries + known.entries.length > MEMBERSHIP_CACHE_ENTRIES) {
      const oldest = this.#membershipCache.keys().next();
      if (oldest.done) break;
      this.#forgetMemberships(oldest.value);
    }
    this.#membershipCache.set(userId, known);
    this.#membershipCacheEntries += known.entries.length;
    return known;
  }

  #forgetMemberships(userId: string): void {
    const kept = this.#membershipCache.get(userId);
    if (kept === undefined) return;
    this.#membershipCache.delete(userId);
    this.#membershipCacheEntries -= kept.entries.length;
  }

  async #build(
    user: AuthenticatedUser,
    deviceKey: string,
    request: SyncRequest,
    to: number,
    typingSerial: number,
  ): Promise<{ body: Record<string, unknown>; hasContent: boolean; rooms: readonly string[] }> {
    const { rooms, typing, receipts, toDevice, e2eKeys, deviceLists } = this.#sources;
    const db = this.#ctx.db;
    const filter = request.filter;
    // A token from beyond the stream (another database) is treated as "now".
    const since =
      request.since === undefined || request.since.position <= to
        ? request.since
        : { ...request.since, position: to };
    const from = since?.position ?? 0;
    const typingReset = since !== undefined && since.typing < typing.startSerial;
    const ignored = this.#ignoredUsers?.of(user.userId);
    // The common long-poll case: the notifier heard of nothing but room changes since the token
    // (no receipt, to-device message, account data or presence, all broadcast, and nothing for
    // this user), so those queries are skipped and the changed rooms come from the notifier.
    const onlyRoomChanges =
      since !== undefined &&
      !request.fullState &&
      !typingReset &&
      !this.#toDeviceBacklog.has(deviceKey) &&
      // Every position up to `to` announced (a writer announcing after its transaction returns
      // leaves a moment where its change is readable but not yet announced).
      to <= this.#ctx.notifier.position &&
      this.#notifierCovers(from) &&
      this.#ctx.notifier.quietForUser(from, user.userId);
    // Nothing announced for the user: their kept memberships hold.
    const kept = onlyRoomChanges ? this.#memberships(user.userId) : undefined;
    const known = kept instanceof Promise ? await kept : kept;
    const roomEntries = known?.entries ?? (await rooms.roomsForUser(user.userId));
    // Rooms with receipts / room account data in range (for an initial sync: with any at all),
    // so rooms without skip those queries.
    const receiptRooms = onlyRoomChanges ? NO_ROOMS : await receipts.roomsChanged(from, to);
    const eventRooms =
      since === undefined
        ? NO_ROOMS
        : known !== undefined
          ? this.#ctx.notifier.roomsAnnouncedSince(from, known.roomIds)
          : await roomsWithEventsBetween(db, from, to);
    const accountDataRooms = onlyRoomChanges
      ? NO_ROOMS
      : await this.#accountData.roomsChanged(user.userId, from, to);
    // On the room-only path nothing was announced for the user, so none of their own
    // memberships changed (a change announces its target).
    let membershipChanged = NO_ROOMS;
    if (since !== undefined && !onlyRoomChanges) {
      const changed = new Set<string>();
      for (const change of await deviceLists.memberChangesBetween(from, to)) {
        if (change.target === user.userId) changed.add(change.roomId);
      }
      membershipChanged = changed;
    }
    // Rooms whose whole range memory served, and whether a member event was among them.
    const seen: SeenInMemory = { complete: new Set(), memberEvent: false };
    const section: RoomSectionContext = {
      rooms,
      typing,
      receipts,
      user,
      since,
      to,
      filter,
      fullState: request.fullState,
      receiptRooms,
      accountDataRooms,
      typingReset,
      roomAccountData: this.#accountData.room,
      unreadNotifications: this.#unreadNotifications,
      relationBundles: this.#relationBundles,
      ignored,
      // Memory knows a room's new events only where the notifier path holds (recent-events.ts).
      recentTimeline: onlyRoomChanges
        ? (roomId, start, end, limit) => this.#recentSlice(roomId, start, end, limit, seen)
        : undefined,
    };

    const join: Record<string, Record<string, unknown>> = {};
    const invite: Record<string, unknown> = {};
    const knock: Record<string, unknown> = {};
    const leave: Record<string, unknown> = {};
    let roomsInBody = 0;
    // The rooms whose changes should wake this user's next long-poll.
    const memberOf = known?.waitRooms ?? memberRooms(roomEntries);
    for (const entry of roomEntries) {
      const roomId = entry.roomId;
      if (!roomIncluded(filter, roomId)) continue;
      // The membership as of `to` (a change committed after `to` is for the next sync).
      let membership: string = entry.membership;
      let eventId = entry.eventId;
      let position = entry.streamPosition;
      if (position > to) {
        const earlier = await membershipAt(db, roomId, user.userId, to);
        if (earlier === undefined) continue;
        ({ membership, eventId, position } = earlier);
      }
      const changedSinceToken = since === undefined || position > from;
      if (membership === 'join') {
        const newlyJoined =
          since !== undefined &&
          membershipChanged.has(roomId) &&
          (await membershipStateAt(db, roomId, user.userId, from)) !== 'join';
        const quiet =
          since !== undefined &&
          !request.fullState &&
          !newlyJoined &&
          !eventRooms.has(roomId) &&
          !receiptRooms.has(roomId) &&
          !accountDataRooms.has(roomId) &&
          !typingReset &&
          typing.roomSerial(roomId) <= since.typing;
        if (quiet) continue;
        const room = await joinedRoom(section, roomId, newlyJoined, position);
        if (room !== undefined) {
          join[roomId] = room;
          roomsInBody += 1;
        }
      } else if (membership === 'invite' || membership === 'knock') {
        if (!changedSinceToken && !request.fullState) continue;
        // Spec "Ignoring Users": invites from ignored users are not sent.
        if (ignored !== undefined && membership === 'invite') {
          const inviter = (await rooms.getEvent(eventId))?.sender;
          if (inviter !== undefined && ignored.has(inviter)) continue;
        }
        const target = membership === 'invite' ? invite : knock;
        target[roomId] = await strippedRoom(section, roomId, membership);
        roomsInBody += 1;
      } else if (membership === 'leave' || membership === 'ban') {
        if (entry.forgotten) continue;
        // Spec "Filtering" include_leave: left rooms appear in an initial sync only on request.
        if (since === undefined ? !filter.includeLeave : !changedSinceToken) continue;
        // Kept memberships may predate a forget (which announces nothing): read it afresh.
        if (onlyRoomChanges) {
          if ((await rooms.membership(roomId, user.userId))?.forgotten !== false) continue;
        }
        const leaveEvent = await rooms.getEvent(eventId);
        if (leaveEvent === undefined) continue;
        const wasJoined =
          since !== undefined &&
          (await membershipStateAt(db, roomId, user.userId, from)) === 'join';
        leave[roomId] = await leftRoom(section, roomId, leaveEvent, wasJoined);
        roomsInBody += 1;
      }
    }

    await addUnreadSections(section, join);

    // No to-device message was sent in range; delivery still runs when the token acknowledges
    // messages (it deletes them).
    const acknowledged = since?.toDevice ?? 0;
    const delivered =
      onlyRoomChanges && acknowledged <= (this.#toDeviceAcknowledged.get(deviceKey) ?? 0)
        ? { events: [], lastId: acknowledged, more: false }
        : await toDevice.deliver(user.userId, user.deviceId, acknowledged, to);
    if (this.#toDeviceAcknowledged.size >= 100_000) this.#toDeviceAcknowledged.clear();
    this.#toDeviceAcknowledged.set(deviceKey, acknowledged);
    // Messages beyond this batch are already in the stream before `to`: the next sync must read
    // them, not wait for a new announcement.
    if (delivered.more) this.#toDeviceBacklog.add(deviceKey);
    else this.#toDeviceBacklog.delete(deviceKey);
    const accountData = onlyRoomChanges
      ? []
      : (await this.#accountData.global(user.userId, from, to)).filter((event) =>
          plainEventMatches(event, filter.accountData),
        );
    const presence = onlyRoomChanges
      ? []
      : (await this.#presenceEvents(user.userId, from, to)).filter((event) =>
          plainEventMatches(event, filter.presence),
        );
    const counted = e2eKeys.syncKeyCounts(user.userId, user.deviceId);
    const keyCounts = counted instanceof Promise ? await counted : counted;
    const body: Record<string, unknown> = {
      next_batch: formatSyncToken({
        position: to,
        typing: typingSerial,
        toDevice: delivered.lastId,
      }),
      rooms: { join, invite, knock, leave },
      presence: { events: presence },
      account_data: { events: accountData },
      to_device: { events: delivered.events },
      device_one_time_keys_count: keyCounts.oneTimeKeys,
      device_unused_fallback_key_types: keyCounts.unusedFallbackTypes,
    };
    let deviceListsChanged = false;
    if (since !== undefined) {
      // Spec: device_lists is only populated on an incremental sync. On the room-only path no
      // device changed (device-list changes broadcast), so only member events can change the
      // lists: when memory served every announced room's whole range and none was a member
      // event, they are empty without asking.
      let noMemberChange = onlyRoomChanges && !seen.memberEvent;
      for (const roomId of eventRooms) if (!seen.complete.has(roomId)) noMemberChange = false;
      const lists = noMemberChange
        ? { changed: [], left: [] }
        : await deviceLists.changesBetween(user.userId, from, to);
      body['device_lists'] = lists;
      deviceListsChanged = lists.changed.length > 0 || lists.left.length > 0;
    }
    const hasContent =
      roomsInBody > 0 ||
      delivered.events.length > 0 ||
      accountData.length > 0 ||
      presence.length > 0 ||
      deviceListsChanged;
    return { body, hasContent, rooms: memberOf };
  }

  /**
   * The last `limit` events of a room in (`from`, `to`] from the recent-events list and the event
   * cache, like the rooms service's `timeline`; `undefined` (read the database) when the list
   * does not reach back to `from`, an event is not found, or a redaction is among them (its
   * target's cached copy may be the unredacted one for a moment).
   */
  async #recentSlice(
    roomId: string,
    from: number,
    to: number,
    limit: number,
    seen: SeenInMemory,
  ): Promise<TimelineSlice | undefined> {
    const ids = this.#recent.between(roomId, from, to);
    if (ids === undefined) return undefined;
    const wanted = limit > 0 ? ids.slice(-limit) : [];
    const found = await this.#sources.rooms.getEvents(wanted);
    const events: StoredEvent[] = [];
    for (const id of wanted) {
      const event = found.get(id);
      if (event === undefined || event.type === 'm.room.redaction') return undefined;
      if (event.type === 'm.room.member') seen.memberEvent = true;
      events.push(event);
    }
    if (wanted.length === ids.length) seen.complete.add(roomId);
    const first = events[0]?.streamPosition;
    return {
      events,
      limited: ids.length > wanted.length,
      prevBatch: roomToken(first !== undefined && first !== null ? first - 1 : from),
    };
  }

  /** Presence changes in (`from`, `to`] of users sharing a room with `userId`, and their own. */
  async #presenceEvents(userId: string, from: number, to: number) {
    if (this.#presence === undefined || to <= from) return [];
    const source = this.#presence;
    const changes = await source.presenceSince(from, to);
    if (changes.length === 0) return [];
    const visible = new Set(await this.#sources.rooms.usersSharingRoomsWith(userId));
    visible.add(userId);
    return changes.filter((event) => visible.has(event.sender));
  }
}
