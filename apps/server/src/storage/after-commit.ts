/**
 * The callbacks a transaction registered with `afterCommit`: run once after its COMMIT, dropped
 * on rollback. A throwing callback must not turn a committed transaction into a failed request
 * (the client would retry a write that happened), so each one runs on its own and a failure is
 * handed to `onError`.
 */
export class AfterCommitHooks {
  #callbacks: (() => void)[] = [];

  add(callback: () => void): void {
    this.#callbacks.push(callback);
  }

  /** Runs (and forgets) every callback, in registration order. */
  run(onError: (error: unknown) => void): void {
    const callbacks = this.#callbacks;
    this.#callbacks = [];
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Forgets every callback (the transaction rolled back). */
  drop(): void {
    this.#callbacks = [];
  }
}

/**
 * Where a failing after-commit callback goes: stderr (the storage layer has no log of its own),
 * never the committed request, never an unhandled exception that would stop the server.
 */
export function reportAfterCommitError(error: unknown): void {
  console.error('weft: an after-commit callback failed:', error);
}
