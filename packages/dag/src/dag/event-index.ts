/**
 * An integer-indexed view of the events one algorithm run touches.
 *
 * Every event ID seen (fetched or only referenced) gets a small integer, so the walks use arrays
 * and typed arrays instead of string-keyed maps. Events are fetched in batches, one batch per
 * layer of a breadth-first walk, through the caller's {@link FetchEvents}.
 */
import type { DagEvent } from '../event.ts';
import { isIterable } from './args.ts';
import type { FetchEvents } from './fetch.ts';

const NOT_REQUESTED = 0;
const REQUESTED = 1;
const QUEUED = 2;

const EMPTY: readonly number[] = Object.freeze([]);

export class EventIndex {
  /** Event ID of each index. */
  readonly ids: string[] = [];
  /** The event at each index, or `undefined` when it is unknown to the store (or not fetched). */
  readonly events: (DagEvent | undefined)[] = [];
  readonly #byId = new Map<string, number>();
  readonly #fetch: FetchEvents;
  /** Per index: whether a fetch was attempted (or is queued for the next batch). */
  #requested = new Uint8Array(1024);
  /** Per index: the indices of its `auth_events` (filled when the event arrives). */
  readonly #auth: (readonly number[])[] = [];

  constructor(fetch: FetchEvents) {
    this.#fetch = fetch;
  }

  /** Number of indices handed out so far. */
  get size(): number {
    return this.ids.length;
  }

  /** The index of `eventId`, allocating one on first sight. */
  intern(eventId: string): number {
    let index = this.#byId.get(eventId);
    if (index === undefined) {
      index = this.ids.length;
      this.#byId.set(eventId, index);
      this.ids.push(eventId);
      this.events.push(undefined);
      this.#auth.push(EMPTY);
    }
    return index;
  }

  /**
   * Lets the next `load` ask the store again for every event it did not have (a long-lived index
   * must see events that arrived since).
   */
  retryMissing(): void {
    const size = Math.min(this.ids.length, this.#requested.length);
    for (let index = 0; index < size; index += 1) {
      if (this.events[index] === undefined) this.#requested[index] = NOT_REQUESTED;
    }
  }

  /** The indices of the auth events of the event at `index` (empty if it is not loaded). */
  authOf(index: number): readonly number[] {
    return this.#auth[index] ?? EMPTY;
  }

  /** Fetches, in one batch, every event among `indices` not requested before. */
  async load(indices: Iterable<number>): Promise<void> {
    const wanted: string[] = [];
    for (const index of indices) {
      if (this.#status(index) !== REQUESTED) {
        this.#requested[index] = REQUESTED;
        wanted.push(this.ids[index] as string);
      }
    }
    if (wanted.length === 0) return;
    const found = await this.#fetch(wanted);
    if (!isIterable(found)) throw new TypeError('fetchEvents must return an iterable of events');
    for (const event of found as Iterable<DagEvent>) {
      if (!isEventShaped(event)) {
        throw new TypeError('fetchEvents returned something that is not a DagEvent');
      }
      const index = this.#byId.get(event.event_id);
      // Ignore anything the store returns that was not asked for.
      if (index !== undefined && this.events[index] === undefined) this.#store(index, event);
    }
  }

  /**
   * Loads `roots` and everything reachable from them through `auth_events`, one batch per
   * breadth-first layer. Events the store lacks are skipped (their ancestors stay unknown).
   */
  async loadAuthClosure(roots: Iterable<number>): Promise<void> {
    let frontier = [...roots];
    while (frontier.length > 0) {
      await this.load(frontier);
      const next: number[] = [];
      for (const index of frontier) {
        for (const auth of this.authOf(index)) {
          if (this.#status(auth) === NOT_REQUESTED) {
            this.#requested[auth] = QUEUED;
            next.push(auth);
          }
        }
      }
      frontier = next;
    }
  }

  #status(index: number): number {
    if (index >= this.#requested.length) {
      const bigger = new Uint8Array(Math.max(this.ids.length, this.#requested.length * 2));
      bigger.set(this.#requested);
      this.#requested = bigger;
    }
    return this.#requested[index] as number;
  }

  #store(index: number, event: DagEvent): void {
    this.events[index] = event;
    const auth = event.auth_events;
    const indices = new Array<number>(auth.length);
    for (let i = 0; i < auth.length; i += 1) indices[i] = this.intern(auth[i] as string);
    this.#auth[index] = indices;
  }
}

/** The fields the walks rely on; anything else is the caller's business. */
function isEventShaped(event: unknown): event is DagEvent {
  const e = event as Partial<DagEvent> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.event_id === 'string' &&
    Array.isArray(e.auth_events) &&
    Array.isArray(e.prev_events) &&
    typeof e.content === 'object' &&
    e.content !== null
  );
}
