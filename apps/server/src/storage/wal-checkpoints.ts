/**
 * When SQLite's write-ahead log is copied back into the database file: after a COMMIT, on a later
 * turn of the event loop, rather than inside the COMMIT that crosses `wal_autocheckpoint`.
 *
 * The automatic checkpoint ran inside the COMMIT, so the clients of that transaction — and the
 * syncs it wakes — waited for the checkpoint's copy and fsyncs before they were answered. Here
 * the COMMIT returns, its after-commit work is scheduled first (the notifier releases woken
 * syncs on `setImmediate` too), and the checkpoint runs after them, under the write lock, as a
 * PASSIVE checkpoint with the connection's own `synchronous` setting: exactly the durability of
 * the automatic one (the WAL is synced before pages are copied, the database file after).
 *
 * SQLite reports a log's size only from a checkpoint, so the next one is due after as many
 * commits as made about {@link CHECKPOINT_PAGES} pages last time (a running estimate of pages per
 * commit). SQLite's own automatic checkpoint stays on at {@link BACKSTOP_PAGES} in case this one
 * falls behind (writes outside transactions, which it does not count).
 */

/** Pages of log between checkpoints (SQLite's `wal_autocheckpoint` before: 10,000). */
export const CHECKPOINT_PAGES = 10_000;
/** Where SQLite's automatic checkpoint still steps in. */
export const BACKSTOP_PAGES = 4 * CHECKPOINT_PAGES;

/** A checkpoint's outcome as `PRAGMA wal_checkpoint` reports it: pages in the log, copied. */
export interface CheckpointResult {
  readonly log: number;
  readonly checkpointed: number;
}

export class WalCheckpoints {
  readonly #checkpoint: (starting: () => void) => Promise<CheckpointResult | undefined>;
  readonly #pages: number;
  readonly #onError: (error: unknown) => void;
  #commits = 0;
  /** Pages per commit, as the last checkpoint found; a guess until then. */
  #pagesPerCommit = 16;
  #scheduled = false;
  #closed = false;

  /**
   * `checkpoint` runs one PASSIVE checkpoint under the write lock, calling `starting` once it
   * holds the lock (the commits counted until then are the ones in the log it reports).
   * `onError` hears of each checkpoint that failed while the database was open.
   */
  constructor(
    checkpoint: (starting: () => void) => Promise<CheckpointResult | undefined>,
    pages = CHECKPOINT_PAGES,
    onError: (error: unknown) => void = () => {},
  ) {
    this.#checkpoint = checkpoint;
    this.#pages = pages;
    this.#onError = onError;
  }

  /** Called after each COMMIT: schedules a checkpoint once enough log has probably piled up. */
  committed(): void {
    this.#commits++;
    if (this.#scheduled || this.#closed) return;
    if (this.#commits * this.#pagesPerCommit < this.#pages) return;
    this.#scheduled = true;
    setImmediate(() => void this.#run());
  }

  async #run(): Promise<void> {
    // Counted when the checkpoint holds the lock: commits that waited ahead of it are in its log.
    let commits = 0;
    try {
      if (this.#closed) return;
      const result = await this.#checkpoint(() => {
        commits = this.#commits;
      });
      // The log holds what was committed since the last full checkpoint: its pages per commit
      // set when the next one is due.
      if (result !== undefined && result.log > 0 && commits > 0) {
        this.#pagesPerCommit = Math.max(1, result.log / commits);
      }
    } catch (error) {
      // SQLite's automatic checkpoint is the backstop; the next one is tried after as many
      // commits again. Closing is not a failure.
      if (!this.#closed) this.#onError(error);
    } finally {
      this.#commits -= commits;
      this.#scheduled = false;
    }
  }

  /** No more checkpoints are scheduled (the database is closing). */
  close(): void {
    this.#closed = true;
  }
}
