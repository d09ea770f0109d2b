/**
 * Detecting gaps (spec server-server-api "Checks performed on receipt of a PDU" and
 * "Retrieving events"): which cited events a server must fetch (`/get_missing_events` for
 * `prev_events`, `/event_auth` or `/event` for `auth_events`) before it can handle new events.
 */
import type { DagEvent } from '../event.ts';
import { requireEvents } from './args.ts';

/** The events cited by a batch but neither in the batch nor known to the caller. */
export interface MissingEvents {
  /** Cited in `prev_events`, unknown; sorted, without duplicates. */
  readonly prevEvents: string[];
  /** Cited in `auth_events`, unknown; sorted, without duplicates. */
  readonly authEvents: string[];
}

/**
 * The `prev_events` and `auth_events` cited by `events` that are neither among `events` nor
 * known according to `isKnown` (e.g. a lookup in the server's event table).
 *
 * @throws TypeError when `events` is not an iterable of events or `isKnown` not a function.
 */
export function missingEvents(
  events: Iterable<DagEvent>,
  isKnown: (eventId: string) => boolean,
): MissingEvents {
  const list = requireEvents(events, 'missingEvents');
  if (typeof isKnown !== 'function') {
    throw new TypeError('missingEvents: isKnown must be a function');
  }
  const inBatch = new Set(list.map((event) => event.event_id));
  const known = (id: string): boolean => inBatch.has(id) || isKnown(id);
  const prevEvents = new Set<string>();
  const authEvents = new Set<string>();
  for (const event of list) {
    for (const id of event.prev_events) if (!known(id)) prevEvents.add(id);
    for (const id of event.auth_events) if (!known(id)) authEvents.add(id);
  }
  return { prevEvents: [...prevEvents].sort(), authEvents: [...authEvents].sort() };
}
