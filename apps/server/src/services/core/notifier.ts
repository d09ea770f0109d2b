/**
 * Wakes long-polling `/sync` requests when something they might return has happened. Writers call
 * `notify(position, keys)` in their transaction's after-commit hook (`tx.afterCommit`), never
 * after `db.transaction` returns: the hook runs right after COMMIT under the write lock, so
 * positions are announced in commit order. Announced later, a change could follow a later
 * commit's announcement (a room event), and a sync woken by that one, taking the room-only path
 * (`quietForUser`, `roomsAnnouncedSince`), would answer a token past the change and skip it. A
 * sync registers with `listen(since, { userId, rooms }, wake)` and stops with the function it
 * returns.
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
 *
 * A waiter is a plain callback, not a promise with an `AbortSignal`: the sync load registers one
 * per long-poll (ten per event sent in a room of ten), and an `AbortController` with its
 * listeners cost ≈ 10–25 µs each (decision record of session 5).
 */

/** What a committed change concerns; absent = everyone. */
export interface WakeKeys {
  readonly rooms?: Iterable<string>;
  readonly users?: Iterable<string>;
}

/** What a waiting sync is interested in: its user and the rooms it is a member of. */
export interface WaitInterest {
  readonly userId: string;
  readonly rooms: readonly string[];
}

interface Waiter {
  readonly since: number;
  /** Its user and rooms. */
  readonly interest: WaitInterest;
  readonly wake: () => void;
}

export class Notifier {
  #position = 0;
  /** The last broadcast position (concerns every waiter). */
  #broadcast = 0;
  /** Room or user ID → the last position announced for it. Grows as the rooms and users do. */
  readonly #keyPositions = new Map<string, number>();
  /** Waiters to release on the next `setImmediate` (see the module comment). */
  readonly #toWake = new Set<Waiter>();
  #wakeScheduled = false;
  /**
   * Room or user ID → the syncs waiting on it (unprefixed: their sigils, `!` and `@`, spec
   * "Common identifier format", keep them apart). Emptied sets stay: a room's members wait
   * again right after each wake-up, and one set per room or user is small.
   */
  readonly #waiting = new Map<string, Set<Waiter>>();
  /** Every waiter (for broadcasts). */
  readonly #all = new Set<Waiter>();
  /** Set by `wakeAll` (shutdown): nothing waits any more. */
  #stopped = false;

  /** Whether `wakeAll` was called: the server is stopping, and long-polls answer at once. */
  get stopped(): boolean {
    return this.#stopped;
  }

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
    for (const roomId of keys.rooms ?? []) this.#announce(roomId, position);
    for (const userId of keys.users ?? []) this.#announce(userId, position);
  }

  /**
   * Whether nothing was broadcast, and nothing announced for `userId`, after `since`: then only
   * room changes can concern the user. Only meaningful for positions this process announced.
   */
  quietForUser(since: number, userId: string): boolean {
    return this.#broadcast <= since && (this.#keyPositions.get(userId) ?? 0) <= since;
  }

  /** Those of `rooms` with a change announced after `since`. */
  roomsAnnouncedSince(since: number, rooms: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const roomId of rooms) {
      if ((this.#keyPositions.get(roomId) ?? 0) > since) out.add(roomId);
    }
    return out;
  }

  /** How many long-polls are listening (tests, diagnostics). */
  get waiting(): number {
    return this.#all.size;
  }

  /**
   * Shutdown: wakes everyone, and from now on `listen` returns at once, so a long-poll that
   * arrives while the server stops is answered rather than held for its whole timeout.
   */
  wakeAll(): void {
    this.#stopped = true;
    for (const waiter of [...this.#all]) waiter.wake();
  }

  /**
   * Calls `wake` once, after a position beyond `since` is announced for one of `interest`'s keys
   * (or broadcast), or on `wakeAll`. Returns the
   * function that stops listening (call it once woken too: it unregisters), or `undefined`
   * without registering when such a position was announced already: then the caller goes on.
   */
  listen(since: number, interest: WaitInterest, wake: () => void): (() => void) | undefined {
    if (this.#stopped || this.#announcedSince(since, interest)) return undefined;
    const waiter: Waiter = { since, interest, wake };
    this.#all.add(waiter);
    this.#waitOn(interest.userId, waiter);
    for (const roomId of interest.rooms) this.#waitOn(roomId, waiter);
    return () => this.#remove(waiter);
  }

  #announcedSince(since: number, interest: WaitInterest): boolean {
    if (this.#broadcast > since) return true;
    if ((this.#keyPositions.get(interest.userId) ?? 0) > since) return true;
    return interest.rooms.some((roomId) => (this.#keyPositions.get(roomId) ?? 0) > since);
  }

  #waitOn(key: string, waiter: Waiter): void {
    let set = this.#waiting.get(key);
    if (set === undefined) {
      set = new Set();
      this.#waiting.set(key, set);
    }
    set.add(waiter);
  }

  #announce(key: string, position: number): void {
    if (position > (this.#keyPositions.get(key) ?? 0)) this.#keyPositions.set(key, position);
    const keyed = this.#waiting.get(key);
    if (keyed !== undefined) {
      for (const waiter of keyed) if (position > waiter.since) this.#wakeSoon(waiter);
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
      for (const each of waking) {
        // Stopped meanwhile (its sync ended another way): not woken.
        if (this.#all.has(each)) each.wake();
      }
    });
  }

  #remove(waiter: Waiter): void {
    if (!this.#all.delete(waiter)) return;
    this.#toWake.delete(waiter);
    const interest = waiter.interest;
    this.#waiting.get(interest.userId)?.delete(waiter);
    for (const roomId of interest.rooms) this.#waiting.get(roomId)?.delete(waiter);
  }
}
