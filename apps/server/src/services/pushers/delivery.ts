/**
 * Delivery to push gateways (Push Gateway API `POST /_matrix/push/v1/notify`,
 * https://spec.matrix.org/v1.19/push-gateway-api/): once an event's write has committed, each
 * recipient whose push actions say `notify` and who has `http` pushers gets one notification per
 * pusher, in the background — the send that stored the event never waits for a gateway; a read
 * receipt that changes the user's total unread count sends each pusher a badge-only notification
 * (`counts` and `devices` only, as Synapse's badge updates) through the same queues. Bounded:
 * a recipient's notifications are prepared one after another (at most
 * `MAX_PREPARING_PER_USER` waiting); each pusher has at most one request in flight, so its
 * notifications (and their badge counts) arrive in order, and a busy pusher keeps at most
 * `MAX_QUEUED_PER_PUSHER` waiting notifications (the oldest dropped, counted in the log);
 * at most `MAX_IN_FLIGHT` requests run at once, at most `MAX_IN_FLIGHT_PER_USER` of them for one
 * user's pushers, so one user's many pushers on a slow gateway cannot hold every slot (the other
 * pushers wait their turn, at most `MAX_QUEUED_TOTAL` notifications waiting in all). A network failure, a timeout, a 5xx or a 429
 * is retried with backoff (@weft/transport's `backoffDelay`; a 429's or 503's `Retry-After`,
 * seconds or an HTTP date, is honoured up to `maxRetryAfterMs`); a pushkey the gateway lists in
 * `rejected` loses its pusher. Node's `http` /
 * `https` rather than `MatrixHttpClient`: the body carries the event's content and the client's
 * pusher data as written, floats included, which the client's canonical JSON would refuse; and
 * the request is the address policy's (`AddressPolicy.request` in address-policy.ts, `push:` in
 * weft.yaml: its socket `lookup`), so a gateway on a private or loopback address is never
 * connected to — `POST /pushers/set` refuses
 * such a URL, and a pusher whose host resolves to one later is kept, its notifications dropped
 * with one warning per pusher. Push keys and event content are never logged.
 *
 * Restarts (as Synapse's `last_stream_ordering`): each pusher's `last_stream_position` (migration
 * 0116) is the stream position of the last event whose notification to it is finished —
 * delivered, its pushkey rejected, given up after the retries, or refused by the address policy
 * — advanced in order (one request at a time per pusher), written in batches (one transaction
 * per `PROGRESS_FLUSH_MS` at most, and at `stop()`). At start, {@link GatewayDelivery.resume}
 * queues again, per pusher, the notifications of the events after its position that notify its
 * user and that they have not read, from the stored push actions (the rows `GET /notifications`
 * lists): the newest `MAX_QUEUED_PER_PUSHER`, none older than `RESUME_MAX_AGE_MS`. So a stop or
 * crash loses no notification that was waiting or being retried; a crash may send one finished
 * in the last `PROGRESS_FLUSH_MS` again (at least once, as Synapse). Badge-only notifications are
 * not persisted: a lost one is only a stale badge count, which the next notification or badge
 * update of the user corrects.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from '@weft/transport';
import { AddressPolicy, DeniedAddressError } from '../core/address-policy.ts';
import type { ServerContext } from '../core/context.ts';
import { listNotifications } from '../push/notification-list.ts';
import type { PushTarget } from '../push/service.ts';
import type { RoomService, StoredEvent } from '../rooms/index.ts';
import {
  advancePushers,
  type PusherProgress,
  type PusherProgressRow,
  type PusherRow,
  selectUnreadTotal,
} from './store.ts';

/** How a refused push gateway address is named in errors and logs. */
export const PUSH_GATEWAY = 'the push gateway address';
/** Attempts per notification and their backoff: 0.25–0.5 s, 0.5–1 s, 1–2 s, 2–4 s. */
const RETRY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 60_000,
};

/** Requests to push gateways in flight at once, over all pushers. */
export const MAX_IN_FLIGHT = 64;
/** Requests in flight at once for the pushers of one user (part of `MAX_IN_FLIGHT`). */
export const MAX_IN_FLIGHT_PER_USER = 4;
/** Notifications waiting for one busy pusher (the oldest is dropped beyond). */
export const MAX_QUEUED_PER_PUSHER = 50;
/** Notifications waiting for their pusher, over all pushers (new ones are dropped beyond). */
const MAX_QUEUED_TOTAL = 10_000;
/** Events waiting to be prepared for one recipient (new ones are dropped beyond). */
const MAX_PREPARING_PER_USER = 100;
/** Pushers remembered as refused by the address policy (warned about once each). */
const MAX_REFUSED_REMEMBERED = 10_000;

/** How long finished notifications' progress waits to be written with the next ones. */
const PROGRESS_FLUSH_MS = 1000;
/** Notifications older than this are not sent again at start (a day). */
const RESUME_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Per-attempt timeout of a gateway request. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The most of a gateway's answer read (its `rejected` list is small). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** What the delivery reads of the pushers service. */
export interface PusherSource {
  /** The user's pushers (every kind; only `http` ones are delivered to). */
  pushers(userId: string): Promise<PusherRow[]>;
  /** Removes a pusher whose pushkey the gateway rejected. */
  rejected(userId: string, appId: string, pushkey: string): Promise<void>;
}

/** The room facts of a full-format notification, read once per event. */
type RoomFacts = {
  readonly senderDisplayName: string | undefined;
  readonly roomName: string | undefined;
  readonly roomAlias: string | undefined;
};

/** `Tweaks` of a device: every `set_tweak` of the actions, a missing `value` being `true`. */
function tweaksOf(actions: readonly unknown[]): Record<string, unknown> {
  const tweaks: Record<string, unknown> = {};
  for (const action of actions) {
    if (typeof action !== 'object' || action === null) continue;
    const tweak = (action as Record<string, unknown>)['set_tweak'];
    if (typeof tweak !== 'string') continue;
    tweaks[tweak] = 'value' in action ? (action as Record<string, unknown>)['value'] : true;
  }
  return tweaks;
}

/** `prio`: `high` for an encrypted event or one that highlights or makes a sound (as Synapse). */
function priorityOf(event: StoredEvent, tweaks: Record<string, unknown>): 'high' | 'low' {
  const loud = (value: unknown) => value !== undefined && value !== false && value !== null;
  return event.type === 'm.room.encrypted' || loud(tweaks['highlight']) || loud(tweaks['sound'])
    ? 'high'
    : 'low';
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The `devices` entry of one pusher: its `data` without `url`. */
function deviceOf(row: PusherRow, data: Record<string, unknown>, tweaks: Record<string, unknown>) {
  const { url: _url, ...rest } = data;
  return {
    app_id: row.app_id,
    pushkey: row.pushkey,
    pushkey_ts: Math.floor(Number(row.pushkey_ts) / 1000),
    data: rest,
    tweaks,
  };
}

/**
 * One notification for one pusher, ready to send; `position`: its event's stream position, the
 * pusher's progress once it is finished (none for a badge-only one: not persisted).
 */
type Job = {
  readonly row: PusherRow;
  readonly url: string;
  readonly body: string;
  readonly position?: number;
};

/**
 * A pusher's waiting notifications; `running` while its one request (or retry wait) is on;
 * `removed` once the pusher is deleted (its jobs dropped, a retry given up).
 */
type PusherQueue = { readonly jobs: Job[]; running: boolean; dropped: number; removed: boolean };

/** A recipient's events waiting to be prepared, in order. */
type Preparing = { tail: Promise<void>; pending: number; dropped: number };

function pusherKey(userId: string, appId: string, pushkey: string): string {
  return `${userId}\u0000${appId}\u0000${pushkey}`;
}

export class GatewayDelivery {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;
  readonly #source: PusherSource;
  readonly #stop = new AbortController();
  readonly #policy: AddressPolicy;
  readonly #preparing = new Map<string, Preparing>();
  readonly #queues = new Map<string, PusherQueue>();
  #queuedTotal = 0;
  /** How many times pushers were deleted: a preparation that raced a deletion reads them again. */
  #removals = 0;
  #droppedTotal = 0;
  #inFlight = 0;
  /** Pusher queues waiting for a request slot, first come first served. */
  readonly #waiting: (() => void)[] = [];
  /** Requests in flight per user, and that user's pusher queues waiting for one of its slots. */
  readonly #userSlots = new Map<string, { inFlight: number; readonly waiting: (() => void)[] }>();
  /** Pushers whose gateway the address policy refused (warned about once). */
  readonly #refused = new Set<string>();
  /** Progress of pushers not yet written, by pusher. */
  readonly #progress = new Map<string, PusherProgress>();
  #progressTimer: NodeJS.Timeout | undefined;
  /** The progress writes, one after another. */
  #progressWrites: Promise<void> = Promise.resolve();
  /**
   * The users whose notifications are to be read again at start and whose turn has not come
   * (see `resume`): read one after another in the background, or at once when the user has new
   * work, so no user's new pushes wait for other users' catch-up.
   */
  readonly #resumes = new Map<string, () => Promise<void>>();

  constructor(ctx: ServerContext, rooms: RoomService, source: PusherSource) {
    this.#ctx = ctx;
    this.#policy = new AddressPolicy(ctx.config.push, PUSH_GATEWAY);
    this.#rooms = rooms;
    this.#source = source;
  }

  /**
   * Drops pending retries and sends nothing more; settles once the progress of the finished
   * notifications is written (call before the database closes).
   */
  stop(): Promise<void> {
    this.#stop.abort();
    for (const wake of this.#waiting.splice(0)) wake();
    for (const slots of this.#userSlots.values())
      for (const wake of slots.waiting.splice(0)) wake();
    clearTimeout(this.#progressTimer);
    this.#progressTimer = undefined;
    return this.#writeProgress();
  }

  /**
   * At start (before any event is delivered): queues again, per pusher of `pushers`, the
   * notifications of the events after its `last_stream_position` up to `upTo` (the stream
   * position at start) that notify its user and are unread — the newest
   * `MAX_QUEUED_PER_PUSHER`, none older than `RESUME_MAX_AGE_MS`. The users are read one after
   * another in the background, a user with new work at once; each user's come before their
   * later notifications.
   */
  resume(pushers: readonly PusherProgressRow[], upTo: number): void {
    const byUser = new Map<string, PusherProgressRow[]>();
    for (const row of pushers) {
      if (row.last_stream_position >= upTo) continue;
      const rows = byUser.get(row.user_id);
      if (rows === undefined) byUser.set(row.user_id, [row]);
      else rows.push(row);
    }
    for (const [userId, rows] of byUser) {
      this.#resumes.set(userId, () => this.#resumeUser(userId, rows, upTo));
    }
    void this.#resumeInTurn();
  }

  /** Starts the users' pending catch-up one after another (each in its user's own chain). */
  async #resumeInTurn(): Promise<void> {
    for (const userId of this.#resumes.keys()) {
      if (this.#stop.signal.aborted) return;
      await this.#startResume(userId);
    }
  }

  /**
   * Queues the user's pending catch-up, if any, ahead of their new work; resolves when it is
   * done (errors are the user's chain's to log).
   */
  #startResume(userId: string): Promise<void> {
    const run = this.#resumes.get(userId);
    if (run === undefined) return Promise.resolve();
    this.#resumes.delete(userId);
    return new Promise((done) => {
      // Not queued (too much waiting for the user): dropped like any other work of theirs.
      if (!this.#prepare(userId, undefined, () => run().finally(done))) done();
    });
  }

  async #resumeUser(userId: string, rows: PusherProgressRow[], upTo: number): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const after = Math.min(...rows.map((row) => row.last_stream_position));
    const since = this.#ctx.now() - RESUME_MAX_AGE_MS;
    const listed = await listNotifications(this.#ctx.db, userId, {
      after,
      before: upTo + 1,
      limit: MAX_QUEUED_PER_PUSHER,
      onlyHighlights: false,
    });
    const due = listed
      .filter((n) => Number(n.notify) !== 0 && !n.read && Number(n.ts) >= since)
      .reverse();
    if (due.length === 0) return;
    const progress = new Map(
      rows.map((row) => [pusherKey(userId, row.app_id, row.pushkey), row.last_stream_position]),
    );
    const events = await this.#rooms.getEvents(due.map((n) => n.event_id));
    let queued = 0;
    for (const n of due) {
      const event = events.get(n.event_id);
      if (this.#stop.signal.aborted) return;
      if (event === undefined) continue;
      const position = Number(n.stream_position);
      // Only the pushers that had not finished it (a pusher set since is not among them).
      const behind = (row: PusherRow) =>
        position > (progress.get(pusherKey(userId, row.app_id, row.pushkey)) ?? position);
      const target = { userId, actions: parseAnyJson(n.actions_json) as unknown[] };
      queued += await this.#deliverTo(event, target, this.#roomFactsOnce(event), behind);
    }
    if (queued > 0) {
      this.#ctx.log.info('push notifications not finished before the restart queued again', {
        user_id: userId,
        notifications: queued,
      });
    }
  }

  /**
   * Pushers were deleted (`kind: null`, their device's logout, another user's pusher of the same
   * key set without `append`, or a gateway rejecting the pushkey; called after the commit): their
   * waiting notifications are dropped, and a retry of the one being sent is not made, so nothing
   * more goes out with their pushkeys. The request already on its way is not called back.
   */
  pushersRemoved(pushers: readonly { userId: string; appId: string; pushkey: string }[]): void {
    this.#removals++;
    for (const { userId, appId, pushkey } of pushers) {
      const key = pusherKey(userId, appId, pushkey);
      const queue = this.#queues.get(key);
      if (queue === undefined) continue;
      this.#queuedTotal -= queue.jobs.length;
      queue.jobs.length = 0;
      queue.removed = true;
      this.#queues.delete(key);
    }
  }

  /** A pusher was set anew: a refusal of its former URL is forgotten. */
  pusherSet(userId: string, appId: string, pushkey: string): void {
    this.#refused.delete(pusherKey(userId, appId, pushkey));
  }

  /** Notifies `targets` of `event` in the background (called after its commit). */
  deliver(event: StoredEvent, targets: readonly PushTarget[]): void {
    if (this.#stop.signal.aborted || targets.length === 0) return;
    const roomFacts = this.#roomFactsOnce(event);
    for (const target of targets) {
      void this.#startResume(target.userId);
      this.#prepare(target.userId, event.eventId, async () => {
        await this.#deliverTo(event, target, roomFacts);
      });
    }
  }

  /**
   * A badge update (as Synapse's): `userId`'s total unread count changed without a new event (a
   * read receipt), so each of their `http` pushers gets a notification of only `counts` and
   * `devices` (no event fields, whatever the `format`; no `tweaks`), prepared and queued in
   * order with their event notifications, under the same limits.
   */
  badge(userId: string): void {
    if (this.#stop.signal.aborted) return;
    void this.#startResume(userId);
    this.#prepare(userId, undefined, () => this.#badgeTo(userId));
  }

  async #badgeTo(userId: string): Promise<void> {
    const removals = this.#removals;
    const pushers = (await this.#source.pushers(userId)).filter((p) => p.kind === 'http');
    if (pushers.length === 0) return;
    const unread = await selectUnreadTotal(this.#ctx.db, userId);
    const jobs: Job[] = [];
    for (const row of pushers) {
      const data = parseAnyJson(row.data) as Record<string, unknown>;
      const url = data['url'];
      if (typeof url !== 'string') continue;
      const { tweaks: _tweaks, ...device } = deviceOf(row, data, {});
      const notification = {
        // Kept at zero, unlike an event's counts: a badge update's point is the new count, and
        // an absent `unread` leaves a badge as it was (Synapse sends `unread: 0` too).
        counts: { unread },
        devices: [device],
      };
      jobs.push({ row, url, body: JSON.stringify({ notification }) });
    }
    await this.#enqueueAll(userId, jobs, removals);
  }

  /**
   * Runs `work` (preparing a user's notifications of one event, a badge update, or their
   * catch-up at start) after the user's earlier ones, in call order; at most
   * `MAX_PREPARING_PER_USER` wait. Returns whether it was queued (beyond that, it is dropped).
   */
  #prepare(userId: string, eventId: string | undefined, work: () => Promise<void>): boolean {
    let preparing = this.#preparing.get(userId);
    if (preparing === undefined) {
      preparing = { tail: Promise.resolve(), pending: 0, dropped: 0 };
      this.#preparing.set(userId, preparing);
    }
    if (preparing.pending >= MAX_PREPARING_PER_USER) {
      preparing.dropped++;
      if (preparing.dropped === 1 || preparing.dropped % 100 === 0) {
        this.#ctx.log.warn('push notifications dropped: too many waiting for one user', {
          user_id: userId,
          dropped: preparing.dropped,
        });
      }
      return false;
    }
    const current = preparing;
    current.pending++;
    current.tail = current.tail
      .then(work)
      .catch((error: unknown) => {
        if (this.#stop.signal.aborted) return;
        this.#ctx.log.warn('push delivery failed', {
          user_id: userId,
          ...(eventId !== undefined ? { event_id: eventId } : {}),
          error: errorName(error),
        });
      })
      .finally(() => {
        current.pending--;
        if (current.pending === 0 && this.#preparing.get(userId) === current) {
          this.#preparing.delete(userId);
        }
      });
    return true;
  }

  /**
   * Queues `target`'s notifications of `event`, one per `http` pusher (of those `only` keeps);
   * returns how many.
   */
  async #deliverTo(
    event: StoredEvent,
    target: PushTarget,
    roomFacts: () => Promise<RoomFacts>,
    only: (row: PusherRow) => boolean = () => true,
  ): Promise<number> {
    const removals = this.#removals;
    const pushers = (await this.#source.pushers(target.userId)).filter(
      (p) => p.kind === 'http' && only(p),
    );
    if (pushers.length === 0) return 0;
    const jobs: Job[] = [];
    const unread = await selectUnreadTotal(this.#ctx.db, target.userId);
    const tweaks = tweaksOf(target.actions);
    const content = event.pdu['content'];
    for (const row of pushers) {
      const data = parseAnyJson(row.data) as Record<string, unknown>;
      const url = data['url'];
      if (typeof url !== 'string') continue;
      const notification: Record<string, unknown> = {
        event_id: event.eventId,
        room_id: event.roomId,
        prio: priorityOf(event, tweaks),
        // Spec: "Counts whose value is zero should be omitted."
        counts: unread > 0 ? { unread } : {},
        devices: [deviceOf(row, data, tweaks)],
      };
      if (data['format'] !== 'event_id_only') {
        const facts = await roomFacts();
        notification['type'] = event.type;
        notification['sender'] = event.sender;
        if (facts.senderDisplayName !== undefined) {
          notification['sender_display_name'] = facts.senderDisplayName;
        }
        if (facts.roomName !== undefined) notification['room_name'] = facts.roomName;
        if (facts.roomAlias !== undefined) notification['room_alias'] = facts.roomAlias;
        if (event.type === 'm.room.member') {
          notification['user_is_target'] = event.stateKey === target.userId;
        }
        if (typeof content === 'object' && content !== null) notification['content'] = content;
      }
      jobs.push({
        row,
        url,
        body: JSON.stringify({ notification }),
        ...(event.streamPosition !== null ? { position: event.streamPosition } : {}),
      });
    }
    return this.#enqueueAll(target.userId, jobs, removals);
  }

  /**
   * Queues `jobs`, prepared from the user's pushers as read when {@link #removals} was
   * `removals`: if pushers were deleted since, those of the jobs still there (read again, after
   * the deletions' commit) only. Returns how many were queued.
   */
  async #enqueueAll(userId: string, jobs: readonly Job[], removals: number): Promise<number> {
    let kept = jobs;
    for (let seen = removals; seen !== this.#removals && kept.length > 0; ) {
      seen = this.#removals;
      const keys = new Set(
        (await this.#source.pushers(userId)).map((p) => pusherKey(userId, p.app_id, p.pushkey)),
      );
      kept = kept.filter((job) => keys.has(pusherKey(userId, job.row.app_id, job.row.pushkey)));
    }
    for (const job of kept) this.#enqueue(userId, job);
    return kept.length;
  }

  /** Queues a notification for its pusher; starts the pusher's sending unless it runs. */
  #enqueue(userId: string, job: Job): void {
    if (this.#stop.signal.aborted) return;
    const key = pusherKey(userId, job.row.app_id, job.row.pushkey);
    let queue = this.#queues.get(key);
    if (queue === undefined) {
      queue = { jobs: [], running: false, dropped: 0, removed: false };
      this.#queues.set(key, queue);
    }
    if (queue.jobs.length >= MAX_QUEUED_PER_PUSHER) {
      queue.jobs.shift();
      this.#queuedTotal--;
      queue.dropped++;
      if (queue.dropped === 1 || queue.dropped % 100 === 0) {
        this.#ctx.log.warn('a push gateway is behind; its oldest waiting notifications dropped', {
          user_id: userId,
          app_id: job.row.app_id,
          dropped: queue.dropped,
        });
      }
    } else if (this.#queuedTotal >= MAX_QUEUED_TOTAL) {
      this.#droppedTotal++;
      if (this.#droppedTotal === 1 || this.#droppedTotal % 1000 === 0) {
        this.#ctx.log.warn('push notifications dropped: too many waiting for push gateways', {
          dropped: this.#droppedTotal,
        });
      }
      if (queue.jobs.length === 0 && !queue.running) this.#queues.delete(key);
      return;
    }
    queue.jobs.push(job);
    this.#queuedTotal++;
    if (!queue.running) void this.#run(userId, key, queue);
  }

  /** Sends a pusher's notifications one at a time, oldest first, until none waits. */
  async #run(userId: string, key: string, queue: PusherQueue): Promise<void> {
    queue.running = true;
    try {
      for (let job = queue.jobs.shift(); job !== undefined; job = queue.jobs.shift()) {
        this.#queuedTotal--;
        if (this.#stop.signal.aborted) continue;
        try {
          const finished = await this.#post(userId, key, queue, job.row, job.url, job.body);
          if (finished && job.position !== undefined) this.#advance(userId, job.row, job.position);
        } catch (error) {
          if (!this.#stop.signal.aborted) {
            this.#ctx.log.warn('push delivery failed', {
              user_id: userId,
              app_id: job.row.app_id,
              error: errorName(error),
            });
          }
        }
      }
    } finally {
      queue.running = false;
      if (this.#queues.get(key) === queue) this.#queues.delete(key);
    }
  }

  /**
   * A pusher's notification of the event at `position` is finished: its progress is written with
   * the others' within `PROGRESS_FLUSH_MS`. Not after `stop()` (its write may have run: the
   * notification is sent again after the restart).
   */
  #advance(userId: string, row: PusherRow, position: number): void {
    if (this.#stop.signal.aborted) return;
    const key = pusherKey(userId, row.app_id, row.pushkey);
    const known = this.#progress.get(key);
    if (known !== undefined && known.position >= position) return;
    this.#progress.set(key, { userId, appId: row.app_id, pushkey: row.pushkey, position });
    if (this.#progressTimer !== undefined) return;
    this.#progressTimer = setTimeout(() => {
      this.#progressTimer = undefined;
      void this.#writeProgress();
    }, PROGRESS_FLUSH_MS);
    this.#progressTimer.unref();
  }

  /** Writes the progress gathered so far in one transaction, after the writes before it. */
  #writeProgress(): Promise<void> {
    const write = async () => {
      if (this.#progress.size === 0) return;
      const batch = [...this.#progress.values()];
      this.#progress.clear();
      try {
        await this.#ctx.db.transaction((tx) => advancePushers(tx, batch));
      } catch (error) {
        // Not written: those notifications are sent again after a restart.
        this.#ctx.log.warn("writing push gateways' progress failed", {
          pushers: batch.length,
          error: errorName(error),
        });
      }
    };
    this.#progressWrites = this.#progressWrites.then(write);
    return this.#progressWrites;
  }

  /**
   * Takes one of `userId`'s `MAX_IN_FLIGHT_PER_USER` request slots, then one of the
   * `MAX_IN_FLIGHT` ones, waiting for each when all are taken.
   */
  async #acquire(userId: string): Promise<void> {
    let slots = this.#userSlots.get(userId);
    if (slots === undefined) {
      slots = { inFlight: 0, waiting: [] };
      this.#userSlots.set(userId, slots);
    }
    if (slots.inFlight < MAX_IN_FLIGHT_PER_USER) slots.inFlight++;
    else {
      const waiting = slots.waiting;
      // The slot is handed over by `#release` (the count stays).
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    if (this.#inFlight < MAX_IN_FLIGHT) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /**
   * Gives the slots of `#acquire` back (or hands them to a waiter). After `stop()` woke the
   * waiters without a slot, the counts never go below zero.
   */
  #release(userId: string): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else if (this.#inFlight > 0) this.#inFlight--;
    const slots = this.#userSlots.get(userId);
    if (slots === undefined) return;
    const nextOfUser = slots.waiting.shift();
    if (nextOfUser !== undefined) nextOfUser();
    else if (slots.inFlight > 1) slots.inFlight--;
    else this.#userSlots.delete(userId);
  }

  /** {@link #roomFacts} of `event`, read at the first call only (its recipients share it). */
  #roomFactsOnce(event: StoredEvent): () => Promise<RoomFacts> {
    let facts: Promise<RoomFacts> | undefined;
    return () => {
      facts ??= this.#roomFacts(event);
      return facts;
    };
  }

  /** The sender's display name in the room and the room's name and alias, as of now. */
  async #roomFacts(event: StoredEvent): Promise<RoomFacts> {
    const [member, name, alias] = await Promise.all([
      this.#rooms.currentStateEvent(event.roomId, 'm.room.member', event.sender),
      this.#rooms.currentStateEvent(event.roomId, 'm.room.name', ''),
      this.#rooms.currentStateEvent(event.roomId, 'm.room.canonical_alias', ''),
    ]);
    const field = (stored: StoredEvent | undefined, key: string) =>
      nonEmptyString((stored?.pdu['content'] as Record<string, unknown> | undefined)?.[key]);
    return {
      senderDisplayName: field(member, 'displayname'),
      roomName: field(name, 'name'),
      roomAlias: field(alias, 'alias'),
    };
  }

  /**
   * POSTs one notification, retrying; removes the pusher when its pushkey is rejected. Holds a
   * request slot during each attempt, not while waiting to retry. Answers whether the
   * notification is finished (delivered, rejected, given up or refused); `false` once stopped
   * or its pusher is deleted (`queue.removed`).
   */
  async #post(
    userId: string,
    key: string,
    queue: PusherQueue,
    row: PusherRow,
    url: string,
    body: string,
  ): Promise<boolean> {
    const stop = this.#stop.signal;
    for (let attempt = 1; ; attempt++) {
      // A deleted pusher's notification is not tried again.
      if (stop.aborted || queue.removed) return false;
      let retry: boolean;
      let failure: string;
      let waitMs: number | undefined;
      await this.#acquire(userId);
      try {
        if (stop.aborted || queue.removed) return false;
        const response = await this.#postOnce(url, body, stop);
        if (response.status >= 200 && response.status < 300) {
          await this.#handleAnswer(userId, row, response.text);
          return true;
        }
        retry = response.status >= 500 || response.status === 429;
        failure = `HTTP ${response.status}`;
        const asked = parseRetryAfter(response.retryAfter, Date.now());
        if (asked !== undefined) waitMs = Math.min(asked, RETRY.maxRetryAfterMs);
      } catch (error) {
        if (stop.aborted) return false;
        if (error instanceof DeniedAddressError) {
          this.#refusedByPolicy(userId, key, row);
          return true;
        }
        retry = true;
        failure = errorName(error);
      } finally {
        this.#release(userId);
      }
      if (!retry || attempt >= RETRY.maxAttempts) {
        this.#ctx.log.warn('a push gateway did not take a notification', {
          user_id: userId,
          app_id: row.app_id,
          attempts: attempt,
          failure,
        });
        return true;
      }
      await sleep(waitMs ?? backoffDelay(attempt - 1, RETRY, Math.random), stop);
    }
  }

  /** The address policy refused the pusher's gateway: warned about once per pusher. */
  #refusedByPolicy(userId: string, key: string, row: PusherRow): void {
    if (this.#refused.has(key)) return;
    if (this.#refused.size >= MAX_REFUSED_REMEMBERED) {
      const oldest = this.#refused.values().next().value;
      if (oldest !== undefined) this.#refused.delete(oldest);
    }
    this.#refused.add(key);
    this.#ctx.log.warn(
      "push gateway address not allowed (push: in weft.yaml); the pusher's notifications are dropped",
      { user_id: userId, app_id: row.app_id },
    );
  }

  /**
   * One POST (no redirects followed) through the address policy's request (address-policy.ts:
   * only addresses it allows are connected to; {@link ATTEMPT_TIMEOUT_MS} for the attempt, the
   * answer's body included); answers the status, for a 2xx the body's text, otherwise the
   * `Retry-After` header. `stop` ends it early.
   */
  async #postOnce(
    url: string,
    body: string,
    stop: AbortSignal,
  ): Promise<{
    readonly status: number;
    readonly text: string;
    readonly retryAfter: string | null;
  }> {
    const response = await this.#policy.request(new URL(url), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Content-Length': Buffer.byteLength(body),
      },
      body,
      deadline: Date.now() + ATTEMPT_TIMEOUT_MS,
      signal: stop,
    });
    return new Promise((resolve, reject) => {
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        response.resume();
        const retryAfter = response.headers['retry-after'];
        resolve({ status, text: '', retryAfter: retryAfter ?? null });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          response.destroy();
          resolve({ status, text: '', retryAfter: null });
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () =>
        resolve({ status, text: Buffer.concat(chunks).toString(), retryAfter: null }),
      );
      response.on('error', reject);
    });
  }

  /** A gateway's 2xx answer: its `rejected` pushkeys lose their pushers. */
  async #handleAnswer(userId: string, row: PusherRow, text: string): Promise<void> {
    let rejected: unknown;
    try {
      rejected = (parseAnyJson(text) as Record<string, unknown> | null)?.['rejected'];
    } catch {
      return;
    }
    if (Array.isArray(rejected) && rejected.includes(row.pushkey)) {
      await this.#source.rejected(userId, row.app_id, row.pushkey);
    }
  }
}

/** An error's name for the log (never its message: it may hold the gateway's URL). */
function errorName(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === undefined ? error.name : `${error.name} ${code}`;
  }
  return 'network error';
}

/** Waits `ms` (without keeping the process alive); resolves early once `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}
