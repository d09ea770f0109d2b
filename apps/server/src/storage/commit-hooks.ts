/**
 * The work a transaction registered for its end:
 * - `beforeCommit` work runs inside the transaction once its own work has finished (every
 *   savepoint released), right before COMMIT, in registration order; if it throws, the whole
 *   transaction rolls back;
 * - `afterCommit` callbacks run once after its COMMIT. A throwing callback must not turn a
 *   committed transaction into a failed request (the client would retry a write that happened),
 *   so each one runs on its own and a failure is handed to `onError`.
 *
 * Both are dropped on rollback, and with a savepoint that rolls back (`mark`, `dropSince`).
 */
export class CommitHooks {
  #beforeCommit: (() => Promise<void>)[] = [];
  #callbacks: (() => void)[] = [];

  addBeforeCommit(work: () => Promise<void>): void {
    this.#beforeCommit.push(work);
  }

  add(callback: () => void): void {
    this.#callbacks.push(callback);
  }

  /** Runs (and forgets) the before-commit work, in order, including work it registers itself. */
  async runBeforeCommit(): Promise<void> {
    while (this.#beforeCommit.length > 0) {
      const work = this.#beforeCommit;
      this.#beforeCommit = [];
      for (const one of work) await one();
    }
  }

  /** Runs (and forgets) every after-commit callback, in registration order. */
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

  /** Forgets everything registered (the transaction rolled back). */
  drop(): void {
    this.#beforeCommit = [];
    this.#callbacks = [];
  }

  /** How much is registered: where a savepoint starts. */
  mark(): HooksMark {
    return { before: this.#beforeCommit.length, after: this.#callbacks.length };
  }

  /** Forgets what was registered since `mark` (its savepoint rolled back). */
  dropSince(mark: HooksMark): void {
    this.#beforeCommit.length = Math.min(mark.before, this.#beforeCommit.length);
    this.#callbacks.length = Math.min(mark.after, this.#callbacks.length);
  }
}

/** A savepoint's start in {@link CommitHooks}. */
export interface HooksMark {
  readonly before: number;
  readonly after: number;
}

/**
 * Runs `work` inside a SAVEPOINT of the open transaction (SQL standard; the same statements on
 * SQLite and PostgreSQL): when it throws, its writes are rolled back, the before- and after-commit
 * work it registered is forgotten with them (a rolled-back write must announce nothing), and the
 * error is rethrown with the transaction still usable.
 */
export async function inSavepoint<T>(
  execute: (sql: string) => Promise<unknown>,
  hooks: CommitHooks,
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
