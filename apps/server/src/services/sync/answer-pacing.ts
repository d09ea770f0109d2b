/**
 * Pacing of long-poll answers (`sync.answer_interval_ms`). A long-polling client asks again as
 * soon as it is answered, so in a busy room every event used to cost each member a whole answer
 * and a new request (≈ 0.2 ms of the server's CPU each, most of a send's cost with ten members);
 * answering a device at most once per interval hands it that interval's events together. A
 * device not answered within the interval is answered at once, so a quiet room's latency is
 * unchanged (decision record of session 6 in ARCHITECTURE.md).
 *
 * Holding an answer must not cost the client events: once one of the device's rooms holds its
 * timeline limit's worth of events since the device's token, the pause ends, because one more
 * event would make that room's timeline `limited` (spec "Syncing": the client then has to
 * paginate a gap that waiting created). Rooms are counted from {@link RecentRoomEvents}, so only
 * tokens this process served are held; a room it cannot count ends the pause too.
 */
import type { RecentRoomEvents } from './recent-events.ts';

/**
 * Devices whose last answer time is kept (≈ 100 bytes each); all are dropped at the bound, which
 * only lets their next answer go out without waiting.
 */
const ANSWERED_DEVICES_KEPT = 100_000;

/** What a held sync must not miss: its rooms, its token's position and its timeline limit. */
export interface PaceWatch {
  readonly rooms: readonly string[];
  readonly since: number;
  readonly timelineLimit: number;
}

interface Paused {
  readonly watch: PaceWatch;
  readonly release: () => void;
}

export class AnswerPacing {
  readonly #intervalMs: number;
  readonly #recent: RecentRoomEvents;
  /** When each long-polling device (`user\0device`) was last answered, on `performance.now()`. */
  readonly #answeredAt = new Map<string, number>();
  /** Room ID → the held syncs watching it. */
  readonly #pausedByRoom = new Map<string, Set<Paused>>();

  constructor(intervalMs: number, recent: RecentRoomEvents) {
    this.#intervalMs = intervalMs;
    this.#recent = recent;
  }

  /** Whether this device was answered within the interval (so `pause` may hold it). */
  mayHold(deviceKey: string): boolean {
    const last = this.#answeredAt.get(deviceKey);
    return last !== undefined && performance.now() - last < this.#intervalMs;
  }

  /**
   * The rest of the interval since this device's last answer, at most `maxWaitMs`, as a promise
   * to wait on; `undefined` when it has passed or a room of `watch` is already full (`now` is the
   * latest position announced).
   */
  pause(
    deviceKey: string,
    maxWaitMs: number,
    watch: PaceWatch,
    now: number,
  ): Promise<void> | undefined {
    if (this.#intervalMs <= 0) return undefined;
    const last = this.#answeredAt.get(deviceKey);
    if (last === undefined) return undefined;
    const wait = Math.min(last + this.#intervalMs - performance.now(), maxWaitMs);
    if (wait <= 0) return undefined;
    // Positions are one stream: fewer than `limit` of them since the token cannot fill a room.
    if (watch.timelineLimit > 0 && now - watch.since >= watch.timelineLimit) {
      if (watch.rooms.some((roomId) => this.#full(roomId, watch))) return undefined;
    }
    return new Promise((resolve) => {
      const paused: Paused = {
        watch,
        release: () => {
          clearTimeout(timer);
          for (const roomId of watch.rooms) {
            const set = this.#pausedByRoom.get(roomId);
            // Emptied sets go, so the map holds only rooms with a held sync now.
            if (set?.delete(paused) === true && set.size === 0) this.#pausedByRoom.delete(roomId);
          }
          resolve();
        },
      };
      const timer = setTimeout(paused.release, wait);
      // A limit of 0 leaves every new event out of the timeline anyway: nothing to watch.
      if (watch.timelineLimit <= 0) return;
      for (const roomId of watch.rooms) {
        let set = this.#pausedByRoom.get(roomId);
        if (set === undefined) {
          set = new Set();
          this.#pausedByRoom.set(roomId, set);
        }
        set.add(paused);
      }
    });
  }

  /** Notes that a long-polling device was answered. */
  answered(deviceKey: string): void {
    if (this.#intervalMs <= 0) return;
    if (this.#answeredAt.size >= ANSWERED_DEVICES_KEPT) this.#answeredAt.clear();
    this.#answeredAt.set(deviceKey, performance.now());
  }

  /**
   * Ends the pauses that a committed timeline event in `roomId` fills the room for (call after
   * {@link RecentRoomEvents.add} has recorded it). Every event recorded so far counts, not only
   * those up to this one: where commits can land out of position order (PostgreSQL), the answer
   * may reach past it.
   */
  timelineEventCommitted(roomId: string): void {
    const paused = this.#pausedByRoom.get(roomId);
    if (paused === undefined) return;
    for (const each of [...paused]) {
      if (this.#full(roomId, each.watch)) each.release();
    }
  }

  /**
   * Whether `roomId` holds the watch's timeline limit of events after its token, or may: every
   * event recorded so far counts (see `timelineEventCommitted`).
   */
  #full(roomId: string, watch: PaceWatch): boolean {
    const events = this.#recent.countAfter(roomId, watch.since);
    return events === undefined || events >= watch.timelineLimit;
  }
}
