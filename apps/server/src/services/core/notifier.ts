/**
 * Wakes long-polling `/sync` requests when something they might return has happened. Writers call
 * `notify(position)` after their transaction commits; a sync waits with `waitFor(since, timeout)`.
 */
export class Notifier {
  #position = 0;
  #waiters = new Set<{ since: number; wake: () => void }>();

  /** The latest position announced. */
  get position(): number {
    return this.#position;
  }

  /** Announces that everything up to `position` is committed and readable. */
  notify(position: number): void {
    if (position > this.#position) this.#position = position;
    for (const waiter of this.#waiters) {
      if (this.#position > waiter.since) waiter.wake();
    }
  }

  /** Wakes everyone (e.g. an ephemeral change with no stream position, or shutdown). */
  wakeAll(): void {
    for (const waiter of this.#waiters) waiter.wake();
  }

  /**
   * Resolves when a position beyond `since` is announced, `wakeAll` is called, the timeout
   * passes, or `signal` aborts — whichever comes first.
   */
  waitFor(since: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.#position > since || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        since,
        wake: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          this.#waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      this.#waiters.add(waiter);
    });
  }
}
