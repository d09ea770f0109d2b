/**
 * Push evaluation (client-server-api "Push Notifications"): every event that enters a room's
 * timeline, sent here or received over federation, is run through the push rules of each local
 * user it may notify — its audience (joined members other than the sender) and the target of an
 * invite — inside the event's write transaction. The decision most of the audience got is stored
 * once for the event (`push_room_actions`), the others per user (`push_user_actions`, store.ts);
 * what notifies or highlights is added to the users' unread counts in the room
 * (`unread_counts`, which a read receipt, the user's join or a redaction recounts), which
 * `/sync`'s `unread_notifications` reads; `GET /notifications` lists the rows
 * (notification-list.ts). Recipients whose actions say `notify` and who have pushers are handed
 * to the push delivery (services/pushers) once the transaction commits.
 */

import { parseAnyJson } from '@weft/canonical-json';
import { type DagEvent, powerLevelOf, roomVersionRules, stateKeyOf } from '@weft/dag';
import { isObject } from '../../json-object.ts';
import { NestedLruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { IgnoredUsersLookup } from '../account-data/ignored-users.ts';
import type { ServerContext } from '../core/context.ts';
import type { PushRuleService } from '../push-rules/service.ts';
import { MAIN_THREAD, threadOf } from '../relations/thread.ts';
import { toDagEvent } from '../rooms/auth.ts';
import { isLocalUser, type RoomService, type StoredEvent } from '../rooms/index.ts';
import { redactsOf } from '../rooms/service.ts';
import type { ConditionContext } from './conditions.ts';
import { evaluatePushRules, type SharedConditionResults } from './evaluate.ts';
import { listNotifications, type NotificationPage } from './notification-list.ts';
import { notifies, splitDecisions, stored } from './shared-decision.ts';
import {
  countsAsOf,
  countUnreadByThreadInRooms,
  deletePushActions,
  hasThreads,
  insertPushActions,
  keptUnread,
  ownActionUsers,
  recountUnread,
  type StoredDecision,
  setUnread,
  sharedSender,
  type UnreadCounts,
  type UnreadIncrement,
} from './store.ts';

/**
 * A room's `unread_notifications` counts, and with per-thread counts asked for, those of the
 * threads with unread notifications by thread root (sync's `unread_thread_notifications`).
 */
export interface UnreadNotifications {
  readonly notification_count: number;
  readonly highlight_count: number;
  readonly threads?: Record<string, { notification_count: number; highlight_count: number }>;
}

/** Spec "m.room.power_levels": `notifications.room` defaults to 50. */
const DEFAULT_NOTIFICATION_LEVEL = 50;

/** One entry of `GET /notifications`. */
export interface NotificationEntry {
  readonly actions: readonly unknown[];
  readonly event: StoredEvent;
  readonly read: boolean;
  readonly roomId: string;
  readonly ts: number;
  readonly position: number;
}

/** A recipient whose push actions for an event say `notify`, to be pushed to. */
export interface PushTarget {
  readonly userId: string;
  /** The actions the push rules decided (their `set_tweak`s become the gateway's tweaks). */
  readonly actions: readonly unknown[];
}

/**
 * Where notifying events go to be pushed (services/pushers): asked per recipient inside the
 * event's transaction, so a recipient without pushers costs a set lookup; handed the targets
 * once the transaction commits.
 */
export interface PushDelivery {
  /** Whether any user may have a pusher (`false`: no recipient is looked up). */
  readonly active: boolean;
  mayPush(userId: string): boolean;
  /** Starts delivering in the background; never throws. */
  deliver(event: StoredEvent, targets: readonly PushTarget[]): void;
  /**
   * The user's total unread count changed without a new event (a read receipt): each of their
   * pushers gets a badge-only notification in the background; never throws.
   */
  badge(userId: string): void;
}

/**
 * Kept unread counts (user, room) held in memory; least recently used rooms go first, each
 * weighing as many users as it holds.
 */
const UNREAD_CACHE_SIZE = 50_000;
/**
 * Users kept per room: a room's entry is not trimmed user by user (those who left stay until
 * then), so past this it starts again from the user being stored.
 */
const UNREAD_USERS_PER_ROOM = 20_000;

interface CachedUnread {
  notifications: number;
  highlights: number;
  /** The position of their last change. */
  stream_position: number;
  /**
   * Whether any unread row may be in a thread (not the main timeline): `false` only when known
   * (a recount or a per-thread count found none, and every row added since was in the main
   * timeline), so a `/sync` asking per thread needs no per-thread count; `undefined`: unknown.
   */
  threaded?: boolean | undefined;
}

export class PushService {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;
  readonly #rules: PushRuleService;
  /**
   * `unread_counts` rows by room, then user, as committed: every write of the table goes through
   * this service and replaces its entry after COMMIT; a read that raced a write keeps nothing.
   * Two lookups, not one by a `user\0room` string: that string, built for each lookup (each
   * member of each event's room, each room of each sync answer), was hashed and compared anew
   * every time (≈ 2% of the main thread under the sync load, record "session 20").
   */
  readonly #unread = new NestedLruMap<string, string, CachedUnread>(
    UNREAD_CACHE_SIZE,
    UNREAD_USERS_PER_ROOM,
  );
  #unreadWrites = 0;
  #delivery: PushDelivery | undefined;
  #ignoredUsers: IgnoredUsersLookup | undefined;

  constructor(ctx: ServerContext, rooms: RoomService, rules: PushRuleService) {
    this.#ctx = ctx;
    this.#rooms = rooms;
    this.#rules = rules;
    rooms.onTimelineEvent((tx, event) => this.#evaluate(tx, event));
  }

  /**
   * Sets who ignores whom (account data `m.ignored_user_list`): a user is no recipient of the
   * non-state events, nor of the invites, of users they ignore (spec "Ignoring Users").
   */
  setIgnoredUsers(ignored: IgnoredUsersLookup): void {
    this.#ignoredUsers = ignored;
  }

  /** Sets where notifying events are pushed (services/pushers). */
  setPushDelivery(delivery: PushDelivery): void {
    this.#delivery = delivery;
  }

  /**
   * `unread_notifications` of each of a user's rooms `roomIds` as of stream position `to`, by
   * room: every thread's together, or with `threads` (the sync filter's
   * `unread_thread_notifications`) the main timeline's, and the other threads' with unread
   * notifications by thread root in `threads`. Only a room with something unread, possibly in a
   * thread, is counted per thread: the kept count and its `threaded` tell the others apart (an
   * initial sync of many unread rooms of the main timeline only runs no query per room), and the
   * rooms that are counted share one query (per chunk of rooms).
   */
  async unreadNotificationsOfRooms(
    userId: string,
    roomIds: readonly string[],
    to: number,
    threads = false,
  ): Promise<Map<string, UnreadNotifications>> {
    const out = new Map<string, UnreadNotifications>();
    const perThread: { roomId: string; kept: CachedUnread }[] = [];
    for (const roomId of roomIds) {
      let kept = this.#unread.get(roomId, userId);
      if (kept === undefined) {
        const writes = this.#unreadWrites;
        // No row: nothing was ever unread (every push action and recount writes one).
        kept = (await keptUnread(this.#ctx.db, userId, roomId)) ?? {
          notifications: 0,
          highlights: 0,
          stream_position: 0,
        };
        if (writes === this.#unreadWrites) this.#unread.set(roomId, userId, kept);
      }
      const counts = await countsAsOf(this.#ctx.db, userId, roomId, kept, to);
      if (
        !threads ||
        kept.threaded === false ||
        (counts.notifications === 0 && counts.highlights === 0)
      ) {
        // Without a thread row, the main timeline's counts are the room's.
        out.set(roomId, {
          notification_count: counts.notifications,
          highlight_count: counts.highlights,
        });
      } else {
        perThread.push({ roomId, kept });
      }
    }
    if (perThread.length === 0) return out;
    const writes = this.#unreadWrites;
    const byRoom = await countUnreadByThreadInRooms(
      this.#ctx.db,
      userId,
      perThread.map((room) => room.roomId),
      to,
    );
    for (const { roomId, kept } of perThread) {
      const byThread = byRoom.get(roomId) ?? new Map<string, UnreadCounts>();
      // Counted as of the kept row's position and unchanged since: whether threads are known.
      if (
        writes === this.#unreadWrites &&
        this.#unread.get(roomId, userId) === kept &&
        Number(kept.stream_position) <= to
      ) {
        kept.threaded = hasThreads(byThread);
      }
      out.set(roomId, splitByThread(byThread));
    }
    return out;
  }

  /**
   * Recounts a user's unread counts in a room after their read receipt (of any thread) at
   * `position` (inside its transaction; the receipts service calls it). When that changes the
   * room's notification count, the user's pushers get a badge-only push after COMMIT.
   */
  async readReceiptMoved(
    tx: SqlExecutor,
    userId: string,
    roomId: string,
    position: number,
  ): Promise<void> {
    // The push gateway's `counts.unread` sums the rooms' notification counts: when this room's
    // changes, the user's pushers get the new total (a badge-only push, as Synapse's). The count
    // before is read only for a user with pushers (every receipt comes this way).
    const delivery = this.#delivery;
    const pushes = delivery?.active === true && delivery.mayPush(userId);
    const before = pushes ? await keptUnread(tx, userId, roomId) : undefined;
    const counts = await recountUnread(tx, userId, roomId, position);
    this.#afterCommitSet(tx, [{ userId, roomId, ...counts, position }]);
    if (pushes && Number(before?.notifications ?? 0) !== Number(counts.notifications)) {
      tx.afterCommit(() => delivery.badge(userId));
    }
  }

  /** Replaces cache entries once `tx` commits (a rollback leaves the cache as it was). */
  #afterCommitSet(
    tx: SqlExecutor,
    rows: readonly {
      userId: string;
      roomId: string;
      notifications: number;
      highlights: number;
      position: number;
      /** Whether any of them is in a thread (`undefined`: unknown). */
      threaded?: boolean;
    }[],
  ): void {
    if (rows.length === 0) return;
    tx.afterCommit(() => {
      this.#unreadWrites++;
      for (const row of rows) {
        this.#unread.set(row.roomId, row.userId, {
          notifications: Number(row.notifications),
          highlights: Number(row.highlights),
          stream_position: Number(row.position),
          threaded: row.threaded,
        });
      }
    });
  }

  /** The user's notifications before stream position `before`, newest first. */
  async notifications(userId: string, options: NotificationPage): Promise<NotificationEntry[]> {
    const rows = await listNotifications(this.#ctx.db, userId, options);
    const events = await this.#rooms.getEvents(rows.map((row) => row.event_id));
    return rows.flatMap((row) => {
      const event = events.get(row.event_id);
      if (event === undefined) return [];
      return [
        {
          actions: parseAnyJson(row.actions_json) as unknown[],
          event,
          read: row.read,
          roomId: row.room_id,
          ts: Number(row.ts),
          position: Number(row.stream_position),
        },
      ];
    });
  }

  /** Runs the push rules of every local user `event` may notify (inside its transaction). */
  async #evaluate(tx: SqlExecutor, event: StoredEvent): Promise<void> {
    if (event.streamPosition === null) return;
    const position = event.streamPosition;
    const redacted = redactsOf(event);
    if (redacted !== undefined) await this.#dropRedacted(tx, redacted, position);
    const content = event.pdu['content'] as Record<string, unknown> | undefined;
    if (
      event.type === 'm.room.member' &&
      content?.['membership'] === 'join' &&
      !wasJoined(event) &&
      event.stateKey !== undefined &&
      isLocalUser(event.stateKey, this.#ctx.config.serverName)
    ) {
      // Nothing before a user's join is unread for them (store.ts `readPositionsSql`), and the
      // join is the newest event: their counts start at zero. A join after a join (a display name
      // or avatar change) is no new join and leaves them alone.
      const zero = { notifications: 0, highlights: 0 };
      await setUnread(tx, event.stateKey, event.roomId, zero, position);
      this.#afterCommitSet(tx, [
        { userId: event.stateKey, roomId: event.roomId, ...zero, position, threaded: false },
      ]);
    }
    const { audience, ignoring, invitee, joinedCount } = await this.#recipients(tx, event);
    if (audience.length === 0 && invitee === undefined) return;
    const pdu = { ...event.pdu, room_id: event.roomId };
    // The members' display names matter only for a body (`contains_display_name`): read once
    // for every recipient, from memory while the room's state is unchanged.
    const names =
      typeof content?.['body'] === 'string'
        ? await this.#rooms.localDisplayNames(tx, event.roomId)
        : NO_NAMES;
    const senderMayNotify = senderPermission(tx, this.#rooms, event);
    // Conditions that read only the event and the room are evaluated once for all recipients.
    const shared: SharedConditionResults = new Map();
    const decide = async (userId: string): Promise<StoredDecision> => {
      const ruleset = await this.#rules.ruleset(userId, tx);
      const context: ConditionContext = {
        displayName: names.get(userId),
        memberCount: joinedCount,
        senderMayNotify,
      };
      const decision = evaluatePushRules(ruleset, pdu, context, shared);
      return stored(decision instanceof Promise ? await decision : decision);
    };
    const decisions = new Map<string, StoredDecision>();
    for (const userId of audience) decisions.set(userId, await decide(userId));
    const { shared: sharedDecision, own } = splitDecisions(decisions);
    if (sharedDecision !== undefined) {
      // A member who ignores the sender is no recipient, but the shared row covers every joined
      // member without an own row (a recount after a receipt or a redaction, the notification
      // list and push delivery's catch-up read it so): an own row that neither notifies nor
      // highlights keeps them out of it. Only with a shared row, and only for ignoring members,
      // so the rows stay one per event otherwise; simpler than giving every count and list query
      // the ignore lists, which live in account data.
      for (const userId of ignoring) own.set(userId, IGNORED);
    }
    // An invitee, outside the audience, gets their own row if it notifies.
    if (invitee !== undefined) {
      const decision = await decide(invitee);
      if (notifies(decision)) own.set(invitee, decision);
      decisions.set(invitee, decision);
    }
    // The thread matters only to what notifies (the unread counts, the read state): any other
    // event, and one without a relation (no query), is left in the main timeline.
    let thread = MAIN_THREAD;
    for (const decision of decisions.values()) {
      if (decision.notify === 0) continue;
      thread = await threadOf(tx, event.roomId, event.pdu);
      break;
    }
    const added = await insertPushActions(
      tx,
      {
        room_id: event.roomId,
        event_id: event.eventId,
        stream_position: position,
        sender: event.sender,
        ts: this.#ctx.now(),
        thread_id: thread,
      },
      sharedDecision,
      own,
      audience,
    );
    this.#afterCommitAdd(tx, event.roomId, position, added, thread !== MAIN_THREAD);
    const delivery = this.#delivery;
    if (delivery?.active === true) queuePush(tx, delivery, event, decisions);
  }

  /**
   * Adds an event's increments to the kept counts once `tx` commits. Every write of
   * `unread_counts` goes through this service and updates its entry after COMMIT, in commit
   * order, so a kept entry plus the increment is the row as committed, unless the entry was
   * loaded from that row already; a user without an entry stays without one (the next read
   * loads the row). `threaded`: the event is in a thread (the entries learn it has thread rows).
   */
  #afterCommitAdd(
    tx: SqlExecutor,
    roomId: string,
    position: number,
    added: readonly UnreadIncrement[],
    threaded: boolean,
  ): void {
    if (added.length === 0) return;
    tx.afterCommit(() => {
      this.#unreadWrites++;
      const users = this.#unread.entriesOf(roomId);
      if (users === undefined) return;
      for (const row of added) {
        // In place: the kept entry is this service's own object, read only synchronously.
        const kept = users.get(row.user_id);
        if (kept !== undefined && threaded) kept.threaded = true;
        // Already has it: on PostgreSQL a read on another connection can load the committed row
        // (stamped with this event's position by the upsert) before this hook runs.
        if (kept === undefined || Number(kept.stream_position) >= position) continue;
        kept.notifications += row.notify;
        kept.highlights += row.highlight;
        kept.stream_position = position;
      }
    });
  }

  /**
   * A redacted event no longer counts or lists as a notification (Synapse does the same): its
   * rows go and the counts of the users it was for are recounted as of the redaction.
   */
  async #dropRedacted(tx: SqlExecutor, redactedId: string, position: number): Promise<void> {
    const redacted = await this.#rooms.events.get(tx, redactedId);
    if (redacted === undefined || redacted.streamPosition === null) return;
    const at = redacted.streamPosition;
    const users = new Set(await ownActionUsers(tx, redacted.roomId, at));
    const sender = await sharedSender(tx, redacted.roomId, at);
    if (sender !== undefined) {
      // Its audience: of the users joined when it was stored, only those still joined have
      // counts that show (a later join starts counting after it).
      for (const userId of (await this.#rooms.localJoinedMembers(tx, redacted.roomId)).local) {
        if (userId !== sender) users.add(userId);
      }
    }
    if (users.size === 0) return;
    await deletePushActions(tx, redacted.roomId, at);
    const recounted = [];
    for (const userId of users) {
      const counts = await recountUnread(tx, userId, redacted.roomId, position);
      recounted.push({ userId, roomId: redacted.roomId, ...counts, position });
    }
    // One after-commit hook for all of them, as for an event's new push actions.
    this.#afterCommitSet(tx, recounted);
  }

  /**
   * The event's audience — the local joined members other than the sender, but for a non-state
   * event those who ignore the sender (`ignoring`) — and a local user being invited; and how many
   * members are joined (local or not: `room_member_count` counts them all). The state read is the
   * state after the event (it is stored first).
   */
  async #recipients(
    tx: SqlExecutor,
    event: StoredEvent,
  ): Promise<{
    audience: string[];
    ignoring: string[];
    invitee: string | undefined;
    joinedCount: number;
  }> {
    const serverName = this.#ctx.config.serverName;
    // Only the local members: a remote member is never a recipient here (their own server
    // evaluates their rules), and a big federated room has thousands.
    const { local, count } = await this.#rooms.localJoinedMembers(tx, event.roomId);
    let audience = local.filter((userId) => userId !== event.sender);
    const content = event.pdu['content'] as Record<string, unknown>;
    const target = event.stateKey;
    const ignored = this.#ignoredUsers;
    // Checked per recipient only while someone ignores someone.
    const ignores = (userId: string) =>
      ignored?.anyone === true && ignored.of(userId)?.has(event.sender) === true;
    let ignoring: string[] = [];
    if (target === undefined && ignored?.anyone === true) {
      ignoring = audience.filter(ignores);
      if (ignoring.length > 0) audience = audience.filter((userId) => !ignores(userId));
    }
    const invitee =
      event.type === 'm.room.member' &&
      content['membership'] === 'invite' &&
      target !== undefined &&
      target !== event.sender &&
      isLocalUser(target, serverName) &&
      !audience.includes(target) &&
      !ignores(target)
        ? target
        : undefined;
    return { audience, ignoring, invitee, joinedCount: count };
  }
}

const NO_NAMES: ReadonlyMap<string, string> = new Map();

/** The own row of a member who ignores the event's sender: neither notifies nor highlights. */
const IGNORED: StoredDecision = Object.freeze({ notify: 0, highlight: 0, actions_json: '[]' });

/**
 * Hands the recipients whose actions say `notify` and who may have pushers to `delivery` once
 * `tx` commits (the sender is never among them: the audience leaves them out). Recipients given
 * one decision (one object: shared-decision.ts) share its actions, parsed once and frozen.
 */
function queuePush(
  tx: SqlExecutor,
  delivery: PushDelivery,
  event: StoredEvent,
  decisions: ReadonlyMap<string, StoredDecision>,
): void {
  let targets: PushTarget[] | undefined;
  let parsed: Map<StoredDecision, readonly unknown[]> | undefined;
  for (const [userId, decision] of decisions) {
    if (decision.notify === 0 || !delivery.mayPush(userId)) continue;
    targets ??= [];
    parsed ??= new Map();
    let actions = parsed.get(decision);
    if (actions === undefined) {
      actions = deepFreeze(parseAnyJson(decision.actions_json) as unknown[]);
      parsed.set(decision, actions);
    }
    targets.push({ userId, actions });
  }
  if (targets === undefined) return;
  const pushTargets = targets;
  tx.afterCommit(() => delivery.deliver(event, pushTargets));
}

/**
 * Whether `event`'s sender may notify with a `notifications` key (`sender_notification_permission`):
 * read from the current state (the state after `event`) inside the write transaction on the first
 * question, and remembered for the event's other recipients.
 */
function senderPermission(
  tx: SqlExecutor,
  rooms: RoomService,
  event: StoredEvent,
): (key: string) => Promise<boolean> {
  let power: Promise<Map<string, DagEvent>> | undefined;
  const stateEvent = async (type: string, stateKey: string) => {
    const row = await tx.queryOne<{ event_id: string }>(
      'SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = $3',
      [event.roomId, type, stateKey],
    );
    return row === undefined ? undefined : rooms.events.get(tx, row.event_id);
  };
  const powerState = async () => {
    const state = new Map<string, DagEvent>();
    for (const [type, key] of [
      ['m.room.create', ''],
      ['m.room.power_levels', ''],
    ] as const) {
      const found = await stateEvent(type, key);
      if (found !== undefined) state.set(stateKeyOf(type, key), toDagEvent(found));
    }
    return state;
  };
  return async (key: string): Promise<boolean> => {
    power ??= powerState();
    const state = await power;
    const rules = roomVersionRules(event.roomVersion);
    if (rules === undefined) return false;
    const levels = state.get(stateKeyOf('m.room.power_levels', ''))?.content['notifications'];
    const required = isObject(levels) ? levels[key] : undefined;
    const needed = Number.isInteger(required) ? Number(required) : DEFAULT_NOTIFICATION_LEVEL;
    return powerLevelOf(event.sender, state, rules) >= needed;
  };
}

/** `value` (parsed JSON) frozen all through, so the targets sharing it cannot change it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Whether a member event replaced a join of the same user (`unsigned.prev_content`, which local
 * events carry): a join after a join changes only the profile (spec client-server-api
 * "m.room.member": `join` to `join` is a display name or avatar change).
 */
function wasJoined(event: StoredEvent): boolean {
  const previous = event.unsigned?.['prev_content'];
  return isObject(previous) && previous['membership'] === 'join';
}

/** A room's counts by thread as `unread_notifications` (`main`) and the other threads'. */
function splitByThread(byThread: ReadonlyMap<string, UnreadCounts>): UnreadNotifications {
  const main = byThread.get(MAIN_THREAD);
  const result: UnreadNotifications = {
    notification_count: main?.notifications ?? 0,
    highlight_count: main?.highlights ?? 0,
  };
  const perThread: Record<string, { notification_count: number; highlight_count: number }> = {};
  let threads = 0;
  for (const [rootId, thread] of byThread) {
    if (rootId === MAIN_THREAD) continue;
    perThread[rootId] = {
      notification_count: thread.notifications,
      highlight_count: thread.highlights,
    };
    threads += 1;
  }
  return threads === 0 ? result : { ...result, threads: perThread };
}
