/**
 * Pacing of long-poll answers (`sync.answer_interval_ms`, `sync.event_wait_ms`). A long-polling
 * client asks again as soon as it is answered, so in a busy room every event used to cost each
 * member a whole answer and a new request (≈ 0.2 ms of the server's CPU each, most of a send's
 * cost with ten members); holding a device answered less than the interval ago hands it several
 * events in one answer. A device not answered within the interval is answered at once, so a quiet
 * room's latency is unchanged (decision record of session 6 in ARCHITECTURE.md).
 *
 * A hold ends at the end of the interval since the device's last answer, or earlier, once the
 * first new timeline event in its rooms has waited the event wait: so no event waits longer than
 * that for a busy device, however the device's answers fall against the room's events (an
 * interval alone let an event committed just after an answer wait all of it). It also lines up
 * a room's members: all are woken by the same first event, so their holds end together (decision
 * record of session 12 in ARCHITECTURE.md).
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
  /** When the pause ends, on `performance.now()`. */
  deadline: number;
  timer: ReturnType<typeof setTimeout>;
  readonly release: () => void;
}

export class AnswerPacing {
  readonly #intervalMs: number;
  /** The longest a held device's first new timeline event waits (see the module comment). */
  readonly #eventWaitMs: number;
  readonly #recent: RecentRoomEvents;
  /** When each long-polling device (`user\0device`) was last answered, on `performance.now()`. */
  readonly #answeredAt = new Map<string, number>();
  /** Room ID → the held syncs watching it. */
  readonly #pausedByRoom = new Map<string, Set<Paused>>();

  constructor(
    settings: { readonly answerIntervalMs: number; readonly eventWaitMs: number },
    recent: RecentRoomEvents,
  ) {
    this.#intervalMs = settings.answerIntervalMs;
    this.#eventWaitMs = settings.eventWaitMs;
    this.#recent = recent;
  }

  /** Whether this device was answered within the interval (so `pause` may hold it). */
  mayHold(deviceKey: string): boolean {
    const last = this.#answeredAt.get(deviceKey);
    return last !== undefined && performance.now() - last < this.#intervalMs;
  }

  /**
   * The rest of this device's hold, at most `maxWaitMs`, as a promise to wait on: until the
   * interval since its last answer has passed, or the first new timeline event of its rooms has
   * waited the event wait, whichever comes first; `undefined` when that has passed or a room of
   * `watch` is already full or may be (`announced`: the latest position announced).
   */
  pause(
    deviceKey: string,
    maxWaitMs: number,
    watch: PaceWatch,
    announced: number,
  ): Promise<void> | undefined {
    if (this.#intervalMs <= 0) return undefined;
    const last = this.#answeredAt.get(deviceKey);
    if (last === undefined) return undefined;
    let deadline = last + this.#intervalMs;
    if (watch.timelineLimit > 0) {
      deadline = Math.min(deadline, this.#firstNewEvent(watch) + this.#eventWaitMs);
    }
    const now = performance.now();
    const wait = Math.min(deadline - now, maxWaitMs);
    if (wait <= 0) return undefined;
    // Positions are one stream: fewer than `limit` of them since the token cannot fill a room.
    if (watch.timelineLimit > 0 && announced - watch.since >= watch.timelineLimit) {
      if (watch.rooms.some((roomId) => this.#full(roomId, watch))) return undefined;
    }
    return new Promise((resolve) => {
      const paused: Paused = {
        watch,
        deadline: now + wait,
        timer: setTimeout(() => paused.release(), wait),
        release: () => {
          clearTimeout(paused.timer);
          for (const roomId of watch.rooms) {
            const set = this.#pausedByRoom.get(roomId);
            // Emptied sets go, so the map holds only rooms with a held sync now.
            if (set?.delete(paused) === true && set.size === 0) this.#pausedByRoom.delete(roomId);
          }
          resolve();
        },
      };
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
    const bound = performance.now() + this.#eventWaitMs;
    for (const each of [...paused]) {
      if (this.#full(roomId, each.watch)) each.release();
      else if (bound < each.deadline) {
        // Held for the interval with no new event yet (another change woke it): this event
        // waits no longer than its bound.
        clearTimeout(each.timer);
        each.deadline = bound;
        each.timer = setTimeout(each.release, this.#eventWaitMs);
      }
    }
  }

  /**
   * When the first timeline event after the watch's token in its rooms committed (`Infinity`
   * for none yet). A room whose list cannot tell adds nothing: the interval still bounds the
   * hold, and the fullness check ends it when such a room may be full.
   */
  #firstNewEvent(watch: PaceWatch): number {
    let first = Number.POSITIVE_INFINITY;
    for (const roomId of watch.rooms) {
      const committed = this.#recent.firstCommitAfter(roomId, watch.since);
      if (committed !== undefined && committed < first) first = committed;
    }
    return first;
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
