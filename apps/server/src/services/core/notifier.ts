/**
 * Wakes long-polling `/sync` requests when something they might return has happened. Writers call
 * `notify(position, keys)` once their transaction has committed (`tx.afterCommit`); a sync waits
 * with `waitFor(since, timeout, { userId, rooms })`.
 *
 * Wake-ups are keyed: a change in a room wakes only the syncs waiting on that room, a change for
 * a user (to-device, account data, an invite) only that user's syncs. A `notify` without keys is
 * a broadcast (changes whose audience the writer does not know, e.g. presence). Each key
 * remembers the last position announced for it, so a sync that read its position just before a
 * change, and starts waiting just after, still sees it at once.
 *
 * Waiters woken by announcements are released together on `setImmediate`, not inside `notify`
 * (which runs in the writer's after-commit hook, under the write lock): the writer finishes its
 * request first, and changes committed in the same turn of the event loop reach a woken sync
 * together, in one response. When the server is idle this adds no delay.
 */

/** What a committed change concerns; absent = everyone. */
export interface WakeKeys {
  readonly rooms?: Iterable<string>;
  readonly users?: Iterable<string>;
}

/** What a waiting sync is interested in: its user and the rooms it is a member of. */
export interface WaitInterest {
  readonly userId: string;
  readonly rooms: Iterable<string>;
}

interface Waiter {
  readonly since: number;
  readonly keys: readonly string[];
  wake(): void;
}

const roomKey = (roomId: string) => `r${roomId}`;
const userKey = (userId: string) => `u${userId}`;

export class Notifier {
  #position = 0;
  /** The last broadcast position (concerns every waiter). */
  #broadcast = 0;
  /** Key → the last position announced for it. Grows with rooms and users, as their tables do. */
  readonly #keyPositions = new Map<string, number>();
  /** Waiters to release on the next `setImmediate` (see the module comment). */
  readonly #toWake = new Set<Waiter>();
  #wakeScheduled = false;
  /** Key → the syncs waiting on it. */
  readonly #waiting = new Map<string, Set<Waiter>>();
  /** Every waiter (for broadcasts). */
  readonly #all = new Set<Waiter>();

  /** The latest position announced (to anyone). */
  get position(): number {
    return this.#position;
  }

  /** Announces that everything up to `position` is committed and readable. */
  notify(position: number, keys?: WakeKeys): void {
    if (position > this.#position) this.#position = position;
    if (keys === undefined) {
      if (position > this.#broadcast) this.#broadcast = position;
      for (const waiter of this.#all) if (position > waiter.since) this.#wakeSoon(waiter);
      return;
    }
    for (const roomId of keys.rooms ?? []) this.#announce(roomKey(roomId), position);
    for (const userId of keys.users ?? []) this.#announce(userKey(userId), position);
  }

  /**
   * Whether nothing was broadcast, and nothing announced for `userId`, after `since`: then only
   * room changes can concern the user. Only meaningful for positions this process announced.
   */
  quietForUser(since: number, userId: string): boolean {
    return this.#broadcast <= since && (this.#keyPositions.get(userKey(userId)) ?? 0) <= since;
  }

  /** Those of `rooms` with a change announced after `since`. */
  roomsAnnouncedSince(since: number, rooms: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const roomId of rooms) {
      if ((this.#keyPositions.get(roomKey(roomId)) ?? 0) > since) out.add(roomId);
    }
    return out;
  }

  /** Wakes everyone (e.g. shutdown). */
  wakeAll(): void {
    for (const waiter of this.#all) waiter.wake();
  }

  /**
   * Resolves when a position beyond `since` is announced for one of `interest`'s keys (or
   * broadcast), `wakeAll` is called, the timeout passes, or `signal` aborts — whichever comes
   * first. Without `interest` any announcement counts.
   */
  waitFor(
    since: number,
    timeoutMs: number,
    signal?: AbortSignal,
    interest?: WaitInterest,
  ): Promise<void> {
    const keys =
      interest === undefined
        ? undefined
        : [userKey(interest.userId), ...[...interest.rooms].map(roomKey)];
    if (timeoutMs <= 0 || signal?.aborted || this.#announcedSince(since, keys)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        since,
        keys: keys ?? [],
        wake: () => {
          this.#toWake.delete(waiter);
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          this.#remove(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      this.#all.add(waiter);
      // A waiter without interest hears every keyed announcement too.
      for (const key of keys ?? ['*']) {
        let set = this.#waiting.get(key);
        if (set === undefined) {
          set = new Set();
          this.#waiting.set(key, set);
        }
        set.add(waiter);
      }
    });
  }

  #announcedSince(since: number, keys: readonly string[] | undefined): boolean {
    if (keys === undefined) return this.#position > since;
    if (this.#broadcast > since) return true;
    return keys.some((key) => (this.#keyPositions.get(key) ?? 0) > since);
  }

  #announce(key: string, position: number): void {
    if (position > (this.#keyPositions.get(key) ?? 0)) this.#keyPositions.set(key, position);
    for (const set of [this.#waiting.get(key), this.#waiting.get('*')]) {
      for (const waiter of set ?? []) if (position > waiter.since) this.#wakeSoon(waiter);
    }
  }

  #wakeSoon(waiter: Waiter): void {
    this.#toWake.add(waiter);
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      const waking = [...this.#toWake];
      this.#toWake.clear();
      for (const each of waking) each.wake();
    });
  }

  #remove(waiter: Waiter): void {
    this.#all.delete(waiter);
    for (const key of waiter.keys.length === 0 ? ['*'] : waiter.keys) {
      const set = this.#waiting.get(key);
      set?.delete(waiter);
      if (set?.size === 0) this.#waiting.delete(key);
    }
  }
}
