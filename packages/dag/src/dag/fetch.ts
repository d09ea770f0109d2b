/**
 * The storage callback every DAG algorithm takes, and an in-memory implementation of it.
 *
 * The algorithms never hold a database: the caller hands in `fetchEvents`, which receives a batch
 * of event IDs and returns whichever of those events it has. Batches let a server answer with one
 * query per step of a walk instead of one query per event.
 */
import type { DagEvent } from '../event.ts';
import { isIterable } from './args.ts';

/**
 * Returns the events among `eventIds` that the store holds (in any order; unknown IDs are left
 * out). May be synchronous or asynchronous.
 */
export type FetchEvents = (
  eventIds: readonly string[],
) => Iterable<DagEvent> | Promise<Iterable<DagEvent>>;

/**
 * A {@link FetchEvents} over an in-memory collection of events (for tests, small tools, and
 * events that are not persisted yet).
 *
 * @throws TypeError when `events` is not iterable.
 */
export function eventFetcher(events: Iterable<DagEvent>): FetchEvents {
  if (!isIterable(events)) {
    throw new TypeError('eventFetcher: events must be an iterable of DagEvent');
  }
  const byId = new Map<string, DagEvent>();
  for (const event of events) byId.set(event.event_id, event);
  return (eventIds) => {
    const found: DagEvent[] = [];
    for (const id of eventIds) {
      const event = byId.get(id);
      if (event !== undefined) found.push(event);
    }
    return found;
  };
}
