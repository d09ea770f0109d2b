/**
 * Flushes SQLite's write-ahead log to disk in the background, so that the checkpoint's own flush
 * finds little left to write.
 *
 * With `synchronous = NORMAL` a COMMIT only appends to the WAL (the operating system writes it
 * out later), and the automatic checkpoint that every `wal_autocheckpoint` pages runs inside a
 * COMMIT first fsyncs the WAL — all the megabytes appended since the last one — then copies the
 * pages into the database file and fsyncs that. `node:sqlite` is synchronous, so the whole
 * server waited for both flushes: 46–106 ms, nearly all of it waiting for the disk (≈ 10 ms of
 * CPU). Here an `fdatasync` of the WAL runs on libuv's thread pool at most every
 * {@link PRESYNC_INTERVAL_MS} while commits arrive, and the event loop keeps serving meanwhile.
 *
 * Durability is unchanged: this only writes out earlier what SQLite would have synced anyway; the
 * checkpoint still syncs the WAL itself before copying, and nothing waits for this flush.
 */
import { close, fdatasync, open } from 'node:fs';

/** Least time between two background flushes (ms). */
export const PRESYNC_INTERVAL_MS = 50;

export class WalPresync {
  readonly #walPath: string;
  #fd: number | undefined;
  /** The flush (or open) in flight, if any. */
  #inFlight: Promise<void> | undefined;
  #lastStart = -Infinity;
  #closed = false;

  constructor(walPath: string) {
    this.#walPath = walPath;
  }

  /** Called after each COMMIT: starts a background flush unless one ran very recently. */
  committed(): void {
    if (this.#closed || this.#inFlight !== undefined) return;
    const now = performance.now();
    if (now - this.#lastStart < PRESYNC_INTERVAL_MS) return;
    this.#lastStart = now;
    this.#inFlight = this.#flush().finally(() => {
      this.#inFlight = undefined;
    });
  }

  async #flush(): Promise<void> {
    // Best effort: a failure leaves SQLite's own checkpoint sync to do all the work, as before.
    try {
      if (this.#fd === undefined) {
        this.#fd = await new Promise<number>((resolve, reject) =>
          open(this.#walPath, 'r', (error, fd) => (error ? reject(error) : resolve(fd))),
        );
      }
      const fd = this.#fd;
      if (fd === undefined || this.#closed) return;
      await new Promise<void>((resolve, reject) =>
        fdatasync(fd, (error) => (error ? reject(error) : resolve())),
      );
    } catch {
      // The WAL may not exist yet (no write since the file was opened): try again later.
    }
  }

  /** Waits for a flush in flight and releases the file (before the database closes). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#inFlight;
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}
