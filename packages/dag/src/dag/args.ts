/**
 * Argument checks shared by the DAG utilities: misuse is a TypeError, as in the rest of Weft.
 */
import type { DagEvent } from '../event.ts';

/** True when `value` can be iterated with `for … of`. */
export function isIterable(value: unknown): value is Iterable<unknown> {
  return (
    value !== null &&
    value !== undefined &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
  );
}

/** `events` as an array of event-shaped objects, or a TypeError naming `fn`. */
export function requireEvents(events: unknown, fn: string): DagEvent[] {
  if (!isIterable(events)) throw new TypeError(`${fn}: expected an iterable of DagEvent`);
  const list = [...events] as DagEvent[];
  for (const event of list) {
    if (
      typeof event !== 'object' ||
      event === null ||
      typeof event.event_id !== 'string' ||
      !Array.isArray(event.prev_events) ||
      !Array.isArray(event.auth_events)
    ) {
      throw new TypeError(`${fn}: expected DagEvent objects (event_id, prev_events, auth_events)`);
    }
  }
  return list;
}

/** `ids` as an array of strings, or a TypeError naming `fn`. */
export function requireIds(ids: unknown, fn: string): string[] {
  if (!isIterable(ids)) throw new TypeError(`${fn}: expected an iterable of event IDs`);
  const list = [...ids];
  for (const id of list) {
    if (typeof id !== 'string') throw new TypeError(`${fn}: event IDs must be strings`);
  }
  return list as string[];
}

/** A TypeError naming `fn` unless `fetchEvents` is a function. */
export function requireFetch(fetchEvents: unknown, fn: string): void {
  if (typeof fetchEvents !== 'function') {
    throw new TypeError(`${fn}: fetchEvents must be a function`);
  }
}
