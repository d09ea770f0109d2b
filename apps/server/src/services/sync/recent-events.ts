/**
 * The IDs and stream positions of each room's latest timeline events, kept in memory as they
 * commit, so a woken `/sync` finds its rooms' new events without a range query. Filled from the
 * rooms service's timeline hook once the event's transaction has committed (`tx.afterCommit`).
 *
 * A room's list is complete above its `floor`: every timeline event the hook saw after it is
 * listed. That is every event of the room only while the room's changes are announced by room
 * key (the notifier path `/sync` already trusts for `onlyRoomChanges`; federation and the other
 * writers that broadcast turn that path off), so `/sync` asks here only on that path, and only
 * for ranges starting at or above both the floor and the first position this process served.
 * Bounded: a room keeps its last {@link PER_ROOM} events, and at most {@link ROOMS} rooms are
 * kept (least recently written first out; a room coming back starts above every list dropped).
 */

/** Events kept per room (a woken sync usually needs one or two). */
const PER_ROOM = 32;
/** Rooms kept. */
const ROOMS = 5_000;

interface RoomList {
  /** Every timeline event of the room above this position is in `entries`. */
  floor: number;
  /** Oldest first. */
  readonly entries: {
    readonly position: number;
    readonly eventId: string;
    /** When it committed, on `performance.now()` (answer pacing bounds its wait). */
    readonly committedAt: number;
  }[];
}

export class RecentRoomEvents {
  readonly #rooms = new Map<string, RoomList>();
  /** The highest position any dropped room list covered (a new list starts above it). */
  #droppedUpTo = 0;

  /** Records a committed timeline event. */
  add(roomId: string, position: number, eventId: string): void {
    let list = this.#rooms.get(roomId);
    if (list === undefined) {
      list = { floor: this.#droppedUpTo, entries: [] };
      if (this.#rooms.size >= ROOMS) this.#dropOldest();
    } else {
      this.#rooms.delete(roomId);
    }
    // Most recently written last, so the first key is the one to drop.
    this.#rooms.set(roomId, list);
    list.entries.push({ position, eventId, committedAt: performance.now() });
    if (list.entries.length > PER_ROOM) {
      const dropped = list.entries.shift();
      if (dropped !== undefined) list.floor = dropped.position;
    }
  }

  /**
   * The IDs of the room's events with positions in (`from`, `to`], oldest first, or `undefined`
   * when the list does not reach back to `from` (the caller reads the database).
   */
  between(roomId: string, from: number, to: number): string[] | undefined {
    const list = this.#rooms.get(roomId);
    if (list === undefined || from < list.floor) return undefined;
    const out: string[] = [];
    for (const entry of list.entries) {
      if (entry.position > from && entry.position <= to) out.push(entry.eventId);
    }
    return out;
  }

  /**
   * How many of the room's recorded events come after position `from`, or `undefined` when the
   * lists cannot tell. A room without a list had no event above the positions of the lists
   * dropped, so it counts 0 from there (callers ask only from positions this process served).
   */
  countAfter(roomId: string, from: number): number | undefined {
    const list = this.#rooms.get(roomId);
    if (list === undefined) return from >= this.#droppedUpTo ? 0 : undefined;
    if (from < list.floor) return undefined;
    let n = 0;
    for (const entry of list.entries) if (entry.position > from) n++;
    return n;
  }

  /**
   * When the room's first recorded event after position `from` committed (`performance.now()`),
   * `Infinity` when none came after it, or `undefined` when the lists cannot tell (as
   * {@link countAfter}).
   */
  firstCommitAfter(roomId: string, from: number): number | undefined {
    const list = this.#rooms.get(roomId);
    if (list === undefined) return from >= this.#droppedUpTo ? Number.POSITIVE_INFINITY : undefined;
    if (from < list.floor) return undefined;
    let first = Number.POSITIVE_INFINITY;
    // Newest last: walk back while the events are new (a quiet room stops at the first). Where
    // commits land out of position order (PostgreSQL) an earlier one may be missed, which only
    // leaves the wait to the interval.
    for (let i = list.entries.length - 1; i >= 0; i--) {
      const entry = list.entries[i] as RoomList['entries'][number];
      if (entry.position <= from) break;
      first = entry.committedAt;
    }
    return first;
  }

  #dropOldest(): void {
    const oldest = this.#rooms.entries().next();
    if (oldest.done) return;
    const [roomId, list] = oldest.value;
    this.#rooms.delete(roomId);
    const last = list.entries.at(-1)?.position ?? list.floor;
    if (last > this.#droppedUpTo) this.#droppedUpTo = last;
  }
}
