/**
 * Basic presence (client-server-api "Presence",
 * https://spec.matrix.org/v1.19/client-server-api/#presence): a user's `online` / `unavailable` /
 * `offline` state and status message, stored with the stream position of its last change so
 * `/sync` can return `m.presence` events after a token ({@link PresenceService.presenceSince}).
 *
 * Activity (spec "Idle timeout", "Last active ago"): a local user's last activity — a `/sync`
 * that brings them `online` from another state, an event they send, `PUT …/status` online — is
 * kept in memory and written with their next state change. A `/sync` of a user already `online`
 * is no activity (spec: "the last time since this user performed some action"; Synapse counts
 * every sync, which its own comment calls "not what the spec wants"), so an open client idles. A sweep every
 * {@link SWEEP_INTERVAL_MS} moves an `online` user with no activity for {@link IDLE_TIMEOUT_MS}
 * to `unavailable`, and a user with no `/sync` in flight and neither a sync nor activity for
 * {@link SYNC_ONLINE_TIMEOUT_MS} to `offline` (Synapse's IDLE_TIMER and SYNC_ONLINE_TIMEOUT,
 * synapse/handlers/presence.py); `last_active_ago` and `currently_active` (active within
 * {@link CURRENTLY_ACTIVE_MS}, Synapse's LAST_ACTIVE_GRANULARITY) are computed when served.
 *
 * Remote users (`m.presence` EDUs, server-server-api "Presence"): the spec sets no timeout, but a
 * remote server that crashed or was cut off sends no `offline`, so the same sweep makes a remote
 * user whose server sent nothing about them for {@link FEDERATION_TIMEOUT_MS} `offline` (Synapse's
 * FEDERATION_TIMEOUT; their server re-sends the presence of users still online well within it).
 * The sweep writes the change rather than reads reporting a stale row as offline: `/sync` serves
 * presence by the stream position of its last change, so only a written change reaches an
 * incremental sync, and it wakes the viewers once, like any other change.
 *
 * Local users' presence goes to other servers ({@link PresenceService.onLocalPresence}; sent as
 * `m.presence` EDUs by federation/edus/presence.ts): every change, and — since those servers time
 * out a user as this one does — a repeat of an unchanged state other than `offline` every
 * {@link FEDERATION_PING_INTERVAL_MS}.
 */
import { MatrixError } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import { serverOf } from '../federation/sender/destinations.ts';
import {
  type PresenceRow,
  presenceAudience,
  selectPresence,
  selectPresenceBetween,
  selectPresentUsers,
  shareJoinedRoom,
  upsertPresence,
} from './store.ts';

/** Spec "m.presence": the states a user can be in. */
export const PRESENCE_STATES = ['online', 'offline', 'unavailable'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** Spec `m.presence` content. */
export interface PresenceContent {
  readonly presence: PresenceState;
  readonly last_active_ago?: number;
  readonly status_msg?: string;
  readonly currently_active?: boolean;
}

/** An `m.presence` event as `/sync` returns it. */
export interface PresenceEvent {
  readonly type: 'm.presence';
  readonly sender: string;
  readonly content: PresenceContent;
}

/** An `online` user with no activity for this long becomes `unavailable` (Synapse: 5 min). */
export const IDLE_TIMEOUT_MS = 5 * 60_000;
/** A user with no `/sync` in flight and none (nor activity) for this long goes `offline` (30 s). */
export const SYNC_ONLINE_TIMEOUT_MS = 30_000;
/** `currently_active` while the last activity is this recent (Synapse: 60 s). */
export const CURRENTLY_ACTIVE_MS = 60_000;
/** A remote user whose server sent no presence of theirs for this long is `offline` (30 min). */
export const FEDERATION_TIMEOUT_MS = 30 * 60_000;
/**
 * A local user not `offline` whose presence was last announced to other servers this long ago is
 * announced again, unchanged: the spec sets no timeout, but remote servers make a user they
 * heard nothing of for 30 minutes `offline` ({@link FEDERATION_TIMEOUT_MS} here, Synapse's
 * FEDERATION_TIMEOUT), so a user who stays `online` (or `unavailable`) would otherwise vanish
 * from them. 25 minutes is Synapse's FEDERATION_PING_INTERVAL: it leaves 5 minutes for the sweep's
 * 5 s period and the delivery of the repeat before the remote timeout.
 */
export const FEDERATION_PING_INTERVAL_MS = 25 * 60_000;
/** How often the idle / offline sweep runs (Synapse checks timeouts every 5 s). */
export const SWEEP_INTERVAL_MS = 5_000;

/** `set` options: the user's last activity and (remote users) their `currently_active`. */
export interface PresenceSetOptions {
  /** Milliseconds since the epoch; default: now for `online`, else the last known activity. */
  readonly lastActiveTs?: number;
  /** Spec `currently_active` as a remote server reported it. */
  readonly currentlyActive?: boolean;
  /**
   * Write only if the user's row is still at this stream position (the sweep's timeout: an
   * update committed since it read the row is newer, and must not be overwritten).
   */
  readonly ifPosition?: number;
}

/** Receives a local user's presence to announce to other servers (spec `m.presence` content). */
export type LocalPresenceListener = (userId: string, content: PresenceContent) => void;

/** What the sweep knows of a local user's activity (in memory only). */
interface Activity {
  /** Last activity (ms since the epoch); 0 = none in this process. */
  lastActive: number;
  /** When their last `/sync` started or ended. */
  lastSync: number;
  /** `/sync` requests in flight that keep them present. */
  syncing: number;
  /** The sweep made them `unavailable` (no activity since): a `/sync` leaves them so. */
  idled: boolean;
}

/**
 * Presence rows kept in memory: every `/sync` reads its user's presence (to apply
 * `set_presence`), and it rarely changes. Bounded; the oldest entry goes first.
 */
const ROW_CACHE_SIZE = 10_000;

export class PresenceService {
  readonly #ctx: ServerContext;
  readonly #userExists: (userId: string) => Promise<boolean>;
  readonly #rows = new Map<string, PresenceRow>();
  /** Counts writes, so a read that raced one does not cache what it read. */
  #writes = 0;
  /** Local users the sweep watches (those active, syncing or present in this process). */
  readonly #activity = new Map<string, Activity>();
  /** Remote users' `currently_active` as their server last reported it. */
  readonly #remoteActive = new Map<string, boolean>();
  /** Remote users not `offline`: when their server last sent their presence (in memory only). */
  readonly #remoteSeen = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #sweeping: Promise<void> | undefined;
  #started = false;
  /** Set by {@link stop}: no more activity is recorded (the database is about to close). */
  #stopping = false;
  /** {@link noteActive} writes under way ({@link stop} waits for them). */
  readonly #pending = new Set<Promise<void>>();
  readonly #localListeners: LocalPresenceListener[] = [];
  /**
   * Local users the sweep watches: when their presence was last announced (in memory only). A new
   * object per announcement, so the sweep tells whether one was made while it ran.
   */
  readonly #announced = new Map<string, { readonly at: number }>();

  constructor(ctx: ServerContext, userExists: (userId: string) => Promise<boolean>) {
    this.#ctx = ctx;
    this.#userExists = userExists;
  }

  /**
   * Sets a user's presence; returns the stream position of the change (or, when `ifPosition`
   * no longer holds, of the newer row left as it is).
   */
  async set(
    userId: string,
    presence: PresenceState,
    statusMsg: string | undefined,
    options: PresenceSetOptions = {},
  ): Promise<number> {
    const now = this.#ctx.now();
    const local = this.#isLocal(userId);
    let lastActive = options.lastActiveTs;
    if (lastActive === undefined) {
      if (presence === 'online') {
        lastActive = now;
      } else {
        const previous = await this.#row(userId);
        const known = Math.max(
          previous === undefined ? 0 : Number(previous.last_active_ts),
          this.#activity.get(userId)?.lastActive ?? 0,
        );
        lastActive = known > 0 ? known : now;
      }
    }
    if (local) {
      const activity = this.#track(userId);
      activity.idled = false;
      activity.lastActive = Math.max(activity.lastActive, lastActive);
      lastActive = activity.lastActive;
    }
    const stored = lastActive;
    return this.#ctx.db.transaction(async (tx) => {
      // Allocating the position first serialises this with every other presence write (its
      // row lock on PostgreSQL, the one writer on SQLite), so the check sees the latest row.
      const next = await nextStreamPosition(tx);
      if (options.ifPosition !== undefined) {
        const current = await selectPresence(tx, userId);
        if (current !== undefined && Number(current.stream_position) !== options.ifPosition) {
          return Number(current.stream_position);
        }
      }
      await upsertPresence(tx, userId, presence, statusMsg ?? null, stored, next);
      // Only those who see the change are woken: `/sync` shows a user's presence to the users
      // sharing a joined room with them (and to themselves). A broadcast would wake every
      // long-poll to find nothing for most (100 users coming online: 10,000 empty rebuilds).
      const audience = await presenceAudience(tx, userId);
      tx.afterCommit(() => {
        // Committed: this is the row now (a read that started before must not cache its own).
        this.#writes++;
        this.#rows.delete(userId);
        if (!local) {
          if (options.currentlyActive === undefined) this.#remoteActive.delete(userId);
          else this.#remoteActive.set(userId, options.currentlyActive);
          if (presence === 'offline') this.#remoteSeen.delete(userId);
          else this.#remoteSeen.set(userId, now);
        }
        this.#ctx.notifier.notify(next, { users: [userId, ...audience] });
        if (local) {
          this.#announce({
            user_id: userId,
            presence,
            status_msg: statusMsg ?? null,
            last_active_ts: stored,
            stream_position: next,
          });
        }
      });
      return next;
    });
  }

  /**
   * A `/sync` of `userId` starts that marks them `state` (its `set_presence`): unless `offline`,
   * it keeps them from going offline until the returned function (call it once the sync ends)
   * runs. No activity: a sync that changes their state is, through {@link syncSet}. In memory.
   */
  syncStarted(userId: string, state: PresenceState): () => void {
    if (state === 'offline' || !this.#isLocal(userId)) return () => {};
    const activity = this.#track(userId);
    const now = this.#ctx.now();
    activity.syncing++;
    activity.lastSync = now;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      activity.syncing = Math.max(0, activity.syncing - 1);
      activity.lastSync = Math.max(activity.lastSync, this.#ctx.now());
    };
  }

  /**
   * A `/sync`'s `set_presence` of `userId` (differing from their state): sets it, as activity
   * when `online`, except that a user the sweep made `unavailable` stays so (a sync is no
   * activity: else an open client would flip back `online` after every idle timeout).
   */
  async syncSet(userId: string, state: PresenceState): Promise<void> {
    const row = await this.#row(userId);
    if (
      state === 'online' &&
      row?.presence === 'unavailable' &&
      this.#activity.get(userId)?.idled === true
    ) {
      return;
    }
    await this.set(userId, state, row?.status_msg ?? undefined);
  }

  /**
   * `userId` did something (sent an event): bumps their last activity, and brings them back
   * `online` from `unavailable` (as Synapse's bump_presence_active_time).
   */
  async markActive(userId: string): Promise<void> {
    if (!this.#isLocal(userId)) return;
    const activity = this.#track(userId);
    activity.lastActive = Math.max(activity.lastActive, this.#ctx.now());
    const row = await this.#row(userId);
    if (row?.presence === 'unavailable') {
      await this.set(userId, 'online', row.status_msg ?? undefined);
    }
  }

  /**
   * Calls `listener` with every committed change of a local user's presence, and with the
   * unchanged presence of a local user not `offline` every {@link FEDERATION_PING_INTERVAL_MS}
   * (federation sends both to the servers sharing a room with the user).
   */
  onLocalPresence(listener: LocalPresenceListener): void {
    this.#localListeners.push(listener);
  }

  /** Hands `rows` to the listeners, in one turn (federation sends them together). */
  #announce(...rows: PresenceRow[]): void {
    if (this.#localListeners.length === 0) return;
    for (const row of rows) {
      this.#announced.set(row.user_id, { at: this.#ctx.now() });
      const content = this.#content(row);
      for (const listener of this.#localListeners) listener(row.user_id, content);
    }
  }

  /** Whether an event `userId` sends is activity to record: a local user, before {@link stop}. */
  recordsActivity(userId: string): boolean {
    return !this.#stopping && this.#isLocal(userId);
  }

  /** {@link markActive} in the background (after the event committed); {@link stop} awaits it. */
  noteActive(userId: string): void {
    if (!this.recordsActivity(userId)) return;
    const done: Promise<void> = this.markActive(userId)
      .catch((error: unknown) => {
        this.#ctx.log.warn('presence activity failed', { error, user_id: userId });
      })
      .finally(() => this.#pending.delete(done));
    this.#pending.add(done);
  }

  /** Starts the idle / offline sweep (an unref'd timer: it keeps no process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      void this.sweep();
    }, SWEEP_INTERVAL_MS);
    this.#timer.unref?.();
  }

  /**
   * Stops the sweep and the recording of activity; settles once a sweep or activity write under
   * way finished (before the database closes).
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
    await Promise.all(this.#pending);
  }

  /**
   * One pass of the idle / offline timeouts over the watched local users and the remote users
   * not `offline` (the timer calls it; tests call it with their clock). The first pass also
   * watches the users left present by an earlier process, as if their last sync (or their
   * server's last update) were now.
   */
  sweep(): Promise<void> {
    this.#sweeping ??= this.#sweep()
      .catch((error: unknown) => this.#ctx.log.warn('presence sweep failed', { error }))
      .finally(() => {
        this.#sweeping = undefined;
      });
    return this.#sweeping;
  }

  async #sweep(): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      for (const userId of await selectPresentUsers(this.#ctx.db)) {
        if (!this.#isLocal(userId)) {
          if (!this.#remoteSeen.has(userId)) this.#remoteSeen.set(userId, this.#ctx.now());
        } else if (!this.#activity.has(userId)) {
          this.#track(userId);
        }
      }
    }
    const repeats: { row: PresenceRow; last: { readonly at: number } | undefined }[] = [];
    for (const [userId, activity] of [...this.#activity]) {
      const row = await this.#row(userId);
      if (row === undefined || row.presence === 'offline') {
        if (activity.syncing === 0) this.#forget(userId);
        continue;
      }
      const now = this.#ctx.now();
      const lastActive = Math.max(activity.lastActive, Number(row.last_active_ts));
      const statusMsg = row.status_msg ?? undefined;
      if (
        activity.syncing === 0 &&
        now - Math.max(activity.lastSync, lastActive) > SYNC_ONLINE_TIMEOUT_MS
      ) {
        await this.set(userId, 'offline', statusMsg, { lastActiveTs: lastActive });
        if (activity.syncing === 0) this.#forget(userId);
      } else if (row.presence === 'online' && now - lastActive > IDLE_TIMEOUT_MS) {
        await this.set(userId, 'unavailable', statusMsg, { lastActiveTs: lastActive });
        activity.idled = true;
      } else if (
        this.#localListeners.length > 0 &&
        now - (this.#announced.get(userId)?.at ?? Number.NEGATIVE_INFINITY) >=
          FEDERATION_PING_INTERVAL_MS
      ) {
        // Unchanged for a while (or left present by an earlier process, whose announcements
        // this one does not know): repeated before other servers time them out, all at once
        // after the pass (one EDU per destination rather than one per user).
        repeats.push({ row, last: this.#announced.get(userId) });
      }
    }
    // Not one that changed during the pass: its change was announced, and a stale repeat after
    // it would undo it.
    this.#announce(
      ...repeats
        .filter(({ row, last }) => this.#announced.get(row.user_id) === last)
        .map(({ row }) => row),
    );
    for (const [userId, seen] of [...this.#remoteSeen]) {
      if (this.#ctx.now() - seen <= FEDERATION_TIMEOUT_MS) continue;
      const row = await this.#row(userId);
      // Their server sent an update while the row was read: it is not stale any more.
      if (this.#remoteSeen.get(userId) !== seen) continue;
      if (row === undefined || row.presence === 'offline') {
        this.#remoteSeen.delete(userId);
        continue;
      }
      // Unless an update committed since the row was read (it arrived while this awaited).
      await this.set(userId, 'offline', row.status_msg ?? undefined, {
        lastActiveTs: Number(row.last_active_ts),
        ifPosition: Number(row.stream_position),
      });
    }
  }

  /** Stops watching local `userId` (offline, no `/sync` in flight). */
  #forget(userId: string): void {
    this.#activity.delete(userId);
    this.#announced.delete(userId);
  }

  #isLocal(userId: string): boolean {
    return serverOf(userId) === this.#ctx.config.serverName;
  }

  /** The activity entry of local `userId`, created (as of now) when missing. */
  #track(userId: string): Activity {
    let activity = this.#activity.get(userId);
    if (activity === undefined) {
      activity = { lastActive: 0, lastSync: this.#ctx.now(), syncing: 0, idled: false };
      this.#activity.set(userId, activity);
    }
    return activity;
  }

  /** A user's presence (`offline` when never set); 404 `M_NOT_FOUND` for an unknown user. */
  async get(userId: string): Promise<PresenceContent> {
    const row = await this.#row(userId);
    if (row === undefined) {
      if (!(await this.#userExists(userId)))
        throw MatrixError.notFound('No presence for this user');
      return { presence: 'offline' };
    }
    return this.#content(row);
  }

  /**
   * Whether `viewerId` may see `userId`'s presence: spec "Presence" publishes it to the users
   * sharing a room with them (GET /presence/{userId}/status: 403 otherwise).
   */
  async visibleTo(viewerId: string, userId: string): Promise<boolean> {
    return viewerId === userId || (await shareJoinedRoom(this.#ctx.db, viewerId, userId));
  }

  /** A user's presence row, from memory when it was read since its last change. */
  async #row(userId: string): Promise<PresenceRow | undefined> {
    const cached = this.#rows.get(userId);
    if (cached !== undefined) return cached;
    const writes = this.#writes;
    const row = await selectPresence(this.#ctx.db, userId);
    if (row !== undefined && writes === this.#writes) {
      if (this.#rows.size >= ROW_CACHE_SIZE) {
        const oldest = this.#rows.keys().next();
        if (!oldest.done) this.#rows.delete(oldest.value);
      }
      this.#rows.set(userId, row);
    }
    return row;
  }

  /** `m.presence` events of every change in (`fromPosition`, `toPosition`], oldest first. */
  async presenceSince(fromPosition: number, toPosition: number): Promise<PresenceEvent[]> {
    const rows = await selectPresenceBetween(this.#ctx.db, fromPosition, toPosition);
    return rows.map((row) => ({
      type: 'm.presence' as const,
      sender: row.user_id,
      content: this.#content(row),
    }));
  }

  /** Spec `m.presence` content, its `last_active_ago` as of now. */
  #content(row: PresenceRow): PresenceContent {
    const lastActive = Math.max(
      Number(row.last_active_ts),
      this.#activity.get(row.user_id)?.lastActive ?? 0,
    );
    const ago = Math.max(0, this.#ctx.now() - lastActive);
    const online = row.presence === 'online';
    const reported = this.#remoteActive.get(row.user_id);
    return {
      presence: row.presence as PresenceState,
      last_active_ago: ago,
      ...(row.status_msg !== null ? { status_msg: row.status_msg } : {}),
      currently_active: online && (reported ?? ago < CURRENTLY_ACTIVE_MS),
    };
  }
}
