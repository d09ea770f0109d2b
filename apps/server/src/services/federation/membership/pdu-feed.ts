/**
 * The PDUs of a `send_join` answer as they arrive (send-join-body.ts hands them over while the
 * body is read), for the check (verify-parallel.ts) to take as soon as they are usable: a PDU
 * is usable once the verify keys its signatures name are fetched, so PDUs are added, then
 * released in arrival order. The check waits on {@link PduFeed.changed}; a failed body fails
 * it with the body's error.
 */
import type { AnswerList } from './send-join-body.ts';

export class PduFeed {
  /** Every PDU added so far, in arrival order. */
  readonly pdus: unknown[] = [];
  /** Per PDU (same index): it came in `state` (else in `auth_chain`). */
  readonly inState: boolean[] = [];
  #released = 0;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  /** A feed already holding a whole answer (the check of an answer read whole). */
  static of(state: readonly unknown[], authChain: readonly unknown[]): PduFeed {
    const feed = new PduFeed();
    for (const pdu of authChain) feed.add(pdu, 'auth_chain');
    for (const pdu of state) feed.add(pdu, 'state');
    feed.release(feed.pdus.length);
    feed.end();
    return feed;
  }

  add(pdu: unknown, list: AnswerList): void {
    this.pdus.push(pdu);
    this.inState.push(list === 'state');
  }

  /** PDUs the check may take: the first `released` ones. */
  get released(): number {
    return this.#released;
  }

  /** Every PDU is in and released: nothing more will come. */
  get finished(): boolean {
    return this.#ended && this.#released === this.pdus.length;
  }

  /** Throws the body's error if it failed. */
  check(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** The first `count` PDUs are usable. */
  release(count: number): void {
    this.#released = Math.max(this.#released, Math.min(count, this.pdus.length));
    this.#wake();
  }

  /** The body ended: no PDU will be added. */
  end(): void {
    this.#ended = true;
    this.#wake();
  }

  /** The body failed: every wait rejects with `error`. */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#wake();
  }

  /** Resolves at the next release, end or failure (rejects on a failure). */
  changed(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    if (this.finished) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Waits until `count` PDUs are released or the feed is finished. */
  async waitFor(count: number): Promise<void> {
    while (this.#released < count && !this.finished) await this.changed();
    this.check();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (this.#failure === undefined) waiter.resolve();
      else waiter.reject(this.#failure.error);
    }
  }
}
