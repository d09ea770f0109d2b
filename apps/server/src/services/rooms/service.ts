/**
 * Rooms: the event pipeline (build → authorize → persist, one transaction per request) and the
 * reads other services use (sync reads memberships, timelines and state from here).
 *
 * Every write runs in one `db.transaction`; the stream positions it allocated are announced
 * through the notifier only after the commit, so a client that got its 200 finds the event in
 * `/sync` and storage never shows half an event.
 */
import { type RoomVersionRules, roomVersionRules } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor, TransactionExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { refuseThreadOffRelation } from '../relations/relation.ts';
import { type ClientEventOptions, toClientEvent } from './client-event.ts';
import { type BuiltEvent, buildEvent, type EventDraft, requireRoom } from './create-event.ts';
import { CurrentStateIdsCache } from './current-state-ids.ts';
import { EVENT_COLUMNS, EVENT_FROM, type EventRow, EventStore } from './event-store.ts';
import { JoinedMembersCache, type LocalMembers } from './joined-members.ts';
import { isLocalUser } from './local-user.ts';
import { type PersistOptions, persistEvent } from './persist-event.ts';
import { redactPrevContentCopies } from './prev-content.ts';
import { redactionWasApplied, redactsOfPdu } from './redaction-applies.ts';
import {
  currentStateEventId,
  loadRoom,
  membershipOf,
  membershipsOfUser,
  type RoomRow,
  usersSharingRoomsWith,
} from './room-store.ts';
import { StateStore } from './state-store.ts';
import { timelineSlice } from './timeline.ts';
import { sendTxnScope } from './txn-scope.ts';
import type {
  Membership,
  MembershipChange,
  RoomMembershipEntry,
  RoomState,
  StoredEvent,
  TimelineSlice,
} from './types.ts';

/** Called inside the write transaction of every persisted event. */
export type EventListener = (tx: SqlExecutor, event: StoredEvent) => Promise<void>;

/** A user's profile as it goes into their `m.room.member` events. */
export interface MemberProfile {
  readonly displayname?: string | undefined;
  readonly avatar_url?: string | undefined;
}

/** Looks up a local user's profile (set by the accounts/profile service). */
export type ProfileLookup = (db: SqlExecutor, userId: string) => Promise<MemberProfile>;

/** The stored stripped state of a remote invite of `userId` to `roomId`, if any. */
export type InviteStateSource = (
  roomId: string,
  userId: string,
) => Promise<Record<string, unknown>[] | undefined>;

/** Stripped state event types given to invitees (spec client-server-api "Stripped state"). */
const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.join_rules',
  'm.room.name',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.encryption',
  'm.room.topic',
] as const;

export class RoomService {
  readonly ctx: ServerContext;
  /** Event rows (internal to the rooms service and its endpoints). */
  readonly events = new EventStore();
  /** State groups (internal to the rooms service). */
  readonly states = new StateStore();
  /** The current state's IDs that event builds ask for, per state group (current-state-ids.ts). */
  readonly currentStateIds = new CurrentStateIdsCache();
  readonly #joinedMembers: JoinedMembersCache;
  readonly #listeners: EventListener[] = [];
  readonly #timelineListeners: EventListener[] = [];
  readonly #roomVersions = new Map<string, string>();
  readonly #queuedSends: QueuedSend[] = [];
  #flushingSends = false;
  #profileLookup: ProfileLookup = async () => ({});
  #inviteStateSource: InviteStateSource | undefined;

  constructor(ctx: ServerContext) {
    this.ctx = ctx;
    this.#joinedMembers = new JoinedMembersCache(ctx.config.serverName);
  }

  // --- Hooks ---

  /** Subscribes to every persisted event (inside its write transaction). */
  onEventPersisted(listener: EventListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Subscribes to every event that enters a room's timeline, local or received over federation
   * (inside its write transaction, after its state is stored): push evaluation uses it.
   */
  onTimelineEvent(listener: EventListener): void {
    this.#timelineListeners.push(listener);
  }

  /** Runs the timeline listeners for an accepted event (the federation receiver calls it too). */
  async timelineEventPersisted(tx: SqlExecutor, event: StoredEvent): Promise<void> {
    // Local and remote redactions both pass here: the redacted event's content is also copied
    // into the `unsigned.prev_content` of the events that replaced it (prev-content.ts) — when
    // the redaction was applied (redaction-applies.ts: a received one may not be).
    const redacted = redactsOf(event);
    if (redacted !== undefined && (await redactionWasApplied(tx, event.eventId, redacted))) {
      await redactPrevContentCopies(tx, this.events, event.roomId, redacted);
    }
    for (const listener of this.#timelineListeners) await listener(tx, event);
  }

  /** Sets where member events take `displayname` and `avatar_url` from. */
  setProfileLookup(lookup: ProfileLookup): void {
    this.#profileLookup = lookup;
  }

  /**
   * Sets where the stripped state of invites to rooms this server is not in comes from (the
   * federation membership service stores what the inviting server sent).
   */
  setInviteStateSource(source: InviteStateSource): void {
    this.#inviteStateSource = source;
  }

  /** The profile a new member event of `userId` carries. */
  async profileOf(db: SqlExecutor, userId: string): Promise<MemberProfile> {
    return this.#profileLookup(db, userId);
  }

  // --- The write pipeline ---

  /**
   * Runs `work` in one write transaction; every event it sends with `send` is announced to the
   * syncs it concerns once the transaction commits (`persistBuilt`).
   */
  async write<T>(
    work: (
      send: (draft: EventDraft, options?: PersistOptions) => Promise<StoredEvent>,
      tx: TransactionExecutor,
    ) => Promise<T>,
  ): Promise<T> {
    const redacted: string[] = [];
    const result = await this.ctx.db.transaction(async (tx) => {
      const send = async (draft: EventDraft, options?: PersistOptions): Promise<StoredEvent> => {
        const stored = await this.#sendInTransaction(tx, draft, options);
        const target = redactsOf(stored);
        if (target !== undefined) redacted.push(target);
        return stored;
      };
      return work(send, tx);
    });
    for (const id of redacted) this.events.evict(id);
    return result;
  }

  /**
   * Builds, authorizes and persists one event (inside `tx`). A thread reply to an event that is
   * itself a relation is refused once the event is authorized (so a sender who may not send
   * there learns nothing about the room's events).
   */
  async #sendInTransaction(
    tx: SqlExecutor,
    draft: EventDraft,
    options: PersistOptions = {},
  ): Promise<StoredEvent> {
    const room = requireRoom(await loadRoom(tx, draft.roomId));
    const rules = rulesOf(room.roomVersion);
    const built = await buildEvent(
      tx,
      this.ctx,
      this.events,
      room,
      rules,
      draft,
      this.currentStateIds,
    );
    await refuseThreadOffRelation(draft, async (eventId) => {
      const root = await this.events.get(tx, eventId);
      if (root === undefined || root.roomId !== draft.roomId) return undefined;
      return root.redactedBecause === undefined ? root.pdu : {};
    });
    return this.persistBuilt(tx, room, built, options);
  }

  /** Persists an already built event and runs the listeners (room creation uses it directly). */
  async persistBuilt(
    tx: SqlExecutor,
    room: RoomRow,
    built: BuiltEvent,
    options: PersistOptions = {},
  ): Promise<StoredEvent> {
    const stored = await persistEvent(
      tx,
      { events: this.events, states: this.states },
      room,
      built,
      options,
    );
    const target = redactsOf(stored);
    if (target !== undefined) {
      // The redacted event is served redacted from now on (client-server-api "Redactions").
      await tx.execute('UPDATE events SET redacted_by = $1 WHERE event_id = $2 AND room_id = $3', [
        stored.eventId,
        target,
        stored.roomId,
      ]);
    }
    // The room's current state is the state after the event (persistEvent set it): the
    // listeners' member lookups need not read the room row again.
    await this.#joinedMembers.withKnownState(tx, room.roomId, stored.stateGroup, async () => {
      for (const listener of this.#listeners) await listener(tx, stored);
      await this.timelineEventPersisted(tx, stored);
    });
    const position = stored.streamPosition;
    if (position !== undefined && position !== null) {
      // Wakes the room's syncs, and for a membership change its target's (an invitee is not a
      // member yet), once the event is committed and readable.
      const keys = {
        rooms: [stored.roomId],
        users:
          stored.type === 'm.room.member' && stored.stateKey !== undefined ? [stored.stateKey] : [],
      };
      tx.afterCommit(() => {
        // Committed: cache it for the syncs about to read it and for the next send's auth.
        this.events.remember(stored);
        this.ctx.notifier.notify(position, keys);
      });
    }
    return stored;
  }

  /**
   * Sends one event as a local user: returns the event ID once it has committed. With `txnId`,
   * a repeat of the same transaction ID from the same device returns the first event's ID and
   * sends nothing (spec client-server-api "Transaction identifiers").
   *
   * Group commit: a send is queued and the queue is flushed from `setImmediate`, after the event
   * loop has read every request that arrived meanwhile, so concurrent sends share one
   * transaction (at most {@link MAX_SENDS_PER_COMMIT}); its COMMIT writes the pages they share
   * (the room row, the stream position, the newest index leaves) once, not once per send.
   * (Flushing at once batched nothing: `node:sqlite` is synchronous, so no other request was read
   * while a transaction ran.) Each send of a batch runs in its own SAVEPOINT: one that fails is
   * rolled back alone — its writes and its after-commit callbacks — and gets its error; the
   * others commit. A send alone in its batch runs in the transaction itself.
   */
  send(draft: EventDraft, options: PersistOptions = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      this.#queuedSends.push({ draft, options, resolve, reject });
      if (this.#flushingSends) return;
      this.#flushingSends = true;
      setImmediate(() => void this.#flushSends());
    });
  }

  async #flushSends(): Promise<void> {
    try {
      while (this.#queuedSends.length > 0) {
        const batch = this.#queuedSends.splice(0, MAX_SENDS_PER_COMMIT);
        let outcomes: SendOutcome[];
        try {
          outcomes = await this.write(async (send, tx) => {
            // A send alone needs no savepoint: if it fails, the transaction is rolled back
            // whole, which is what its savepoint would have done (two statements fewer).
            const [only] = batch;
            if (batch.length === 1 && only !== undefined) {
              return [{ eventId: await sendQueued(send, only) }];
            }
            const done: SendOutcome[] = [];
            for (const job of batch) {
              try {
                done.push({ eventId: await tx.savepoint(() => sendQueued(send, job)) });
              } catch (error) {
                done.push(await failedSend(tx, job, error));
              }
            }
            return done;
          });
        } catch (error) {
          // BEGIN or COMMIT failed, or a send alone failed: none of the batch is stored.
          outcomes = [];
          for (const job of batch) outcomes.push(await failedSend(this.ctx.db, job, error));
        }
        for (const [i, job] of batch.entries()) {
          const outcome = outcomes[i] as SendOutcome;
          if ('eventId' in outcome) job.resolve(outcome.eventId);
          else job.reject(outcome.error);
        }
      }
    } finally {
      this.#flushingSends = false;
    }
  }

  /** The event a transaction ID of this device produced at one endpoint (txn-scope.ts), if any. */
  eventIdForTxn(
    userId: string,
    deviceId: string,
    txnId: string,
    scope: string,
  ): Promise<string | undefined> {
    return txnEventId(this.ctx.db, userId, deviceId, txnId, scope);
  }

  // --- Reads (stable API: /sync reads these) ---

  /** Every room `userId` has a membership in, with that membership (forgotten rooms included, flagged). */
  roomsForUser(userId: string): Promise<RoomMembershipEntry[]> {
    return membershipsOfUser(this.ctx.db, userId);
  }

  /** `userId`'s membership in `roomId`, if any. */
  membership(roomId: string, userId: string): Promise<RoomMembershipEntry | undefined> {
    return membershipOf(this.ctx.db, roomId, userId);
  }

  /** Changes of `userId`'s own membership with positions in (`fromPosition`, `toPosition`], in order. */
  async membershipChanges(
    userId: string,
    fromPosition: number,
    toPosition: number,
  ): Promise<MembershipChange[]> {
    const rows = await this.ctx.db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${EVENT_FROM}
        WHERE e.type = 'm.room.member' AND e.state_key = $1
          AND e.stream_position > $2 AND e.stream_position <= $3
        ORDER BY e.stream_position`,
      [userId, fromPosition, toPosition],
    );
    return (await this.events.fromRows(this.ctx.db, rows)).map((event) => ({
      roomId: event.roomId,
      membership: (event.pdu['content'] as Record<string, unknown>)['membership'] as Membership,
      event,
    }));
  }

  /**
   * The last `limit` events of a room with positions in (`fromPosition`, `toPosition`], oldest
   * first, whether more were in range, and a `prev_batch` token for `/messages`.
   */
  timeline(
    roomId: string,
    options: { fromPosition?: number; toPosition: number; limit: number },
  ): Promise<TimelineSlice> {
    return timelineSlice(this.ctx.db, this.events, roomId, options);
  }

  /** The room's current state (`stateKeyOf(type, stateKey)` → event ID); empty for unknown rooms. */
  async currentState(roomId: string): Promise<RoomState> {
    const room = await loadRoom(this.ctx.db, roomId);
    if (room?.currentStateGroup == null) return new Map();
    return this.states.get(this.ctx.db, room.currentStateGroup);
  }

  /** The room state after the last event at or before stream `position` (empty before the room existed). */
  async stateAtPosition(roomId: string, position: number): Promise<RoomState> {
    const row = await this.ctx.db.queryOne<{ state_group: number | null }>(
      `SELECT state_group FROM events WHERE room_id = $1 AND stream_position <= $2
        ORDER BY stream_position DESC LIMIT 1`,
      [roomId, position],
    );
    if (row?.state_group == null) return this.#initialState(roomId);
    return this.states.get(this.ctx.db, Number(row.state_group));
  }

  /**
   * The state before the room's first synced event: empty for a room created here, the state
   * `send_join` returned for a room joined over federation (its events are outliers without
   * positions; the join's state group is that state plus the join).
   */
  async #initialState(roomId: string): Promise<RoomState> {
    const first = await this.ctx.db.queryOne<{ prev_group: number | null }>(
      `SELECT s.prev_group FROM events e JOIN state_groups s ON s.group_id = e.state_group
        WHERE e.room_id = $1 AND e.stream_position IS NOT NULL
        ORDER BY e.stream_position LIMIT 1`,
      [roomId],
    );
    if (first?.prev_group == null) return new Map();
    return this.states.get(this.ctx.db, Number(first.prev_group));
  }

  /** The state after a given event. */
  async stateAfterEvent(event: StoredEvent): Promise<RoomState> {
    return event.stateGroup === null ? new Map() : this.states.get(this.ctx.db, event.stateGroup);
  }

  /** The events of a state map (in no particular order). */
  async stateEvents(state: RoomState): Promise<StoredEvent[]> {
    return [...(await this.events.getMany(this.ctx.db, [...state.values()])).values()];
  }

  /** One current state event, if set. */
  async currentStateEvent(
    roomId: string,
    type: string,
    stateKey: string,
  ): Promise<StoredEvent | undefined> {
    const id = await currentStateEventId(this.ctx.db, roomId, type, stateKey);
    return id === undefined ? undefined : this.events.get(this.ctx.db, id);
  }

  /** Events by ID (unknown IDs are absent). */
  getEvents(eventIds: readonly string[]): Promise<Map<string, StoredEvent>> {
    return this.events.getMany(this.ctx.db, eventIds);
  }

  /** One event by ID. */
  getEvent(eventId: string): Promise<StoredEvent | undefined> {
    return this.events.get(this.ctx.db, eventId);
  }

  /** User IDs whose current membership in `roomId` is `membership` (default join). */
  async members(roomId: string, membership: Membership = 'join'): Promise<string[]> {
    const rows = await this.ctx.db.query<{ user_id: string }>(
      'SELECT user_id FROM room_memberships WHERE room_id = $1 AND membership = $2 ORDER BY user_id',
      [roomId, membership],
    );
    return rows.map((row) => row.user_id);
  }

  /**
   * The users joined to `roomId` now, through `db` (inside a write: as that transaction sees
   * it), from memory while the room's state is unchanged.
   */
  joinedMembers(db: SqlExecutor, roomId: string): Promise<readonly string[]> {
    return this.#joinedMembers.members(db, roomId);
  }

  /**
   * This server's users joined to `roomId` now and how many members are joined in all, through
   * `db`: who an event may notify, without reading every remote member of a big room.
   */
  localJoinedMembers(db: SqlExecutor, roomId: string): Promise<LocalMembers> {
    return this.#joinedMembers.localMembers(db, roomId);
  }

  /**
   * The display names of this server's users joined to `roomId` now (`m.room.member` content;
   * members without one are absent), through `db`, from memory while the room's state is
   * unchanged. Only local ones: `contains_display_name` is evaluated for recipients, who are
   * local, and a big federated room's member events are thousands to read and parse.
   */
  localDisplayNames(db: SqlExecutor, roomId: string): Promise<ReadonlyMap<string, string>> {
    const serverName = this.ctx.config.serverName;
    return this.#joinedMembers.displayNames(db, roomId, async () => {
      // The LIKE only narrows the rows (see room-store.ts localJoinedMembers); isLocalUser decides.
      const read = await db.query<{ state_key: string; event_id: string }>(
        `SELECT s.state_key, s.event_id FROM room_current_state s
           JOIN room_memberships m ON m.room_id = s.room_id AND m.user_id = s.state_key
          WHERE s.room_id = $1 AND s.type = 'm.room.member' AND m.membership = 'join'
            AND m.user_id LIKE $2`,
        [roomId, `%:${serverName}`],
      );
      const rows = read.filter((row) => isLocalUser(row.state_key, serverName));
      const events = await this.events.getMany(
        db,
        rows.map((row) => row.event_id),
        false,
      );
      const names = new Map<string, string>();
      for (const row of rows) {
        const content = events.get(row.event_id)?.pdu['content'] as
          | Record<string, unknown>
          | undefined;
        const name = content?.['displayname'];
        if (typeof name === 'string') names.set(row.state_key, name);
      }
      return names;
    });
  }

  /** Users joined to at least one room `userId` is joined to (including `userId`). */
  usersSharingRoomsWith(userId: string): Promise<string[]> {
    return usersSharingRoomsWith(this.ctx.db, userId);
  }

  /** The room's version, or `undefined` for an unknown room. */
  async roomVersion(roomId: string): Promise<string | undefined> {
    const cached = this.#roomVersions.get(roomId);
    if (cached !== undefined) return cached;
    const room = await loadRoom(this.ctx.db, roomId);
    if (room !== undefined) this.#roomVersions.set(roomId, room.roomVersion);
    return room?.roomVersion;
  }

  /**
   * Stripped state for an invite or knock (spec client-server-api "Stripped state"): the room's
   * create, join rules, name, avatar, canonical alias, encryption and topic events as
   * `{ type, state_key, content, sender }`, plus the user's own member event.
   */
  async strippedState(roomId: string, userId?: string): Promise<Record<string, unknown>[]> {
    const remote =
      userId === undefined ? undefined : await this.#inviteStateSource?.(roomId, userId);
    const ids: string[] = [];
    for (const type of STRIPPED_STATE_TYPES) {
      const id = await currentStateEventId(this.ctx.db, roomId, type, '');
      if (id !== undefined) ids.push(id);
    }
    if (userId !== undefined) {
      const id = await currentStateEventId(this.ctx.db, roomId, 'm.room.member', userId);
      if (id !== undefined) ids.push(id);
    }
    const events = await this.events.getMany(this.ctx.db, ids);
    return [
      ...(remote ?? []),
      ...ids.flatMap((id) => {
        const event = events.get(id);
        if (event === undefined) return [];
        return [
          {
            type: event.type,
            state_key: event.stateKey ?? '',
            content: event.pdu['content'],
            sender: event.sender,
          },
        ];
      }),
    ];
  }

  /** An event in the client format (see `toClientEvent`). */
  clientEvent(
    event: StoredEvent,
    options: Omit<ClientEventOptions, 'now'> = {},
  ): Record<string, unknown> {
    return toClientEvent(event, { ...options, now: this.ctx.now() });
  }
}

/** The rules of a stored room's version (stored rooms only have supported versions). */
export function rulesOf(roomVersion: string): RoomVersionRules {
  const rules = roomVersionRules(roomVersion);
  if (rules === undefined) {
    throw new MatrixError(
      400,
      'M_UNSUPPORTED_ROOM_VERSION',
      `Unsupported room version ${roomVersion}`,
    );
  }
  return rules;
}

/** The event an `m.room.redaction` redacts (top level before v11, in content from v11). */
export function redactsOf(event: StoredEvent): string | undefined {
  return redactsOfPdu(event.type, event.pdu);
}

/** How one send of a batch ended. */
type SendOutcome = { readonly eventId: string } | { readonly error: unknown };

/** A `send` waiting for a transaction. */
interface QueuedSend {
  readonly draft: EventDraft;
  readonly options: PersistOptions;
  readonly resolve: (eventId: string) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Most sends one transaction commits together: bounds how long a batch holds the write lock that
 * receipts, to-device messages and federation wait for.
 */
const MAX_SENDS_PER_COMMIT = 16;

/**
 * One queued send inside the batch's transaction; returns its event ID. A repeated transaction
 * ID is not looked up first: the send's `event_txn_ids` row is unique, so a repeat fails (and is
 * rolled back) at its insert, and {@link failedSend} answers it with the first event. The
 * lookup before every send was one primary-key read per send for what only a client's retry
 * needs.
 */
async function sendQueued(
  send: (draft: EventDraft, options?: PersistOptions) => Promise<StoredEvent>,
  job: QueuedSend,
): Promise<string> {
  return (await send(job.draft, job.options)).eventId;
}

/**
 * How a send that failed ends: a repeat of a transaction ID this device already used gets the
 * event that ID produced (spec client-server-api "Transaction identifiers": the same response,
 * nothing sent again) — whatever made it fail: the insert of its used transaction ID, or a check
 * the room no longer passes — and any other send its error. `db` sees what the failed send did
 * not roll back: inside the batch its earlier sends, after a failed transaction what committed.
 */
async function failedSend(db: SqlExecutor, job: QueuedSend, error: unknown): Promise<SendOutcome> {
  const { draft, options } = job;
  if (options.txnId === undefined || options.senderDevice === undefined) return { error };
  try {
    const scope = options.txnScope ?? sendTxnScope(draft.roomId, draft.type);
    const previous = await txnEventId(db, draft.sender, options.senderDevice, options.txnId, scope);
    return previous === undefined ? { error } : { eventId: previous };
  } catch {
    return { error };
  }
}

async function txnEventId(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  txnId: string,
  scope: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ event_id: string }>(
    `SELECT event_id FROM event_txn_ids
      WHERE user_id = $1 AND device_id = $2 AND txn_id = $3 AND scope = $4`,
    [userId, deviceId, txnId, scope],
  );
  return row?.event_id;
}
