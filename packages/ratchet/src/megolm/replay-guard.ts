/**
 * Replay detection for Megolm (spec "Limitations → Message Replays": a message decrypts any
 * number of times, so applications should remember the indices they have decrypted).
 *
 * Matrix clients legitimately decrypt the same event again (timeline reloads), so the guard keys
 * on (session ID, message index) and remembers the event ID that first used it: the same event
 * again is fine; a different event reusing an index is a replay.
 */
import { RatchetError } from '../errors.ts';

/** Remembers (session ID, message index) → event ID and refuses a second event for an index. */
export class ReplayGuard {
  readonly #seen = new Map<string, Map<number, string>>();

  /** Starts empty, or from `entries()` saved earlier. */
  constructor(entries: Iterable<readonly [string, number, string]> = []) {
    for (const [sessionId, messageIndex, eventId] of entries) {
      this.check(sessionId, messageIndex, eventId);
    }
  }

  /**
   * Records that `eventId` decrypted at `messageIndex` of `sessionId`. Returns `true` the first
   * time, `false` when the same event is seen again, and throws `RatchetError('duplicate-message')`
   * when a different event reuses the index.
   */
  check(sessionId: string, messageIndex: number, eventId: string): boolean {
    if (typeof sessionId !== 'string' || typeof eventId !== 'string') {
      throw new TypeError('sessionId and eventId must be strings');
    }
    if (!Number.isInteger(messageIndex) || messageIndex < 0 || messageIndex > 0xffffffff) {
      throw new RangeError('messageIndex must be an unsigned 32-bit integer');
    }
    let indices = this.#seen.get(sessionId);
    if (indices === undefined) {
      indices = new Map();
      this.#seen.set(sessionId, indices);
    }
    const previous = indices.get(messageIndex);
    if (previous === undefined) {
      indices.set(messageIndex, eventId);
      return true;
    }
    if (previous === eventId) return false;
    throw new RatchetError('duplicate-message', 'Megolm message index reused by another event', {
      context: { sessionId, messageIndex, eventId, firstEventId: previous },
    });
  }

  /** Every remembered (session ID, message index, event ID), for persistence. */
  *entries(): IterableIterator<[string, number, string]> {
    for (const [sessionId, indices] of this.#seen) {
      for (const [messageIndex, eventId] of indices) yield [sessionId, messageIndex, eventId];
    }
  }

  /** Forgets a session (e.g. once it is discarded). */
  forget(sessionId: string): void {
    this.#seen.delete(sessionId);
  }
}
