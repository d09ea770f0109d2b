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

  /** How many callbacks are registered: where a savepoint starts. */
  mark(): number {
    return this.#callbacks.length;
  }

  /** Forgets the callbacks registered since `mark` (their savepoint rolled back). */
  dropSince(mark: number): void {
    this.#callbacks.length = Math.min(mark, this.#callbacks.length);
  }
}

/**
 * Runs `work` inside a SAVEPOINT of the open transaction (SQL standard; the same statements on
 * SQLite and PostgreSQL): when it throws, its writes are rolled back, the after-commit callbacks
 * it registered are forgotten with them (a rolled-back write must announce nothing), and the
 * error is rethrown with the transaction still usable.
 */
export async function inSavepoint<T>(
  execute: (sql: string) => Promise<unknown>,
  hooks: AfterCommitHooks,
  work: () => Promise<T>,
): Promise<T> {
  await execute('SAVEPOINT weft_savepoint');
  const mark = hooks.mark();
  try {
    const result = await work();
    await execute('RELEASE SAVEPOINT weft_savepoint');
    return result;
  } catch (error) {
    hooks.dropSince(mark);
    await execute('ROLLBACK TO SAVEPOINT weft_savepoint');
    await execute('RELEASE SAVEPOINT weft_savepoint');
    throw error;
  }
}

/**
 * Where a failing after-commit callback goes: stderr (the storage layer has no log of its own),
 * never the committed request, never an unhandled exception that would stop the server.
 */
export function reportAfterCommitError(error: unknown): void {
  console.error('weft: an after-commit callback failed:', error);
}
