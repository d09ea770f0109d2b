/**
 * Forward extremities (spec server-server-api "Room State Resolution"; client-server "Syncing"):
 * the events of a room graph that no other event cites in `prev_events`. A server lists them as
 * the `prev_events` of the next event it creates.
 */
import type { DagEvent } from '../event.ts';
import { requireEvents } from './args.ts';

/**
 * The IDs of the events among `events` that no event of `events` cites in `prev_events`, sorted.
 *
 * @throws TypeError when `events` is not an iterable of events.
 */
export function forwardExtremities(events: Iterable<DagEvent>): string[] {
  const list = requireEvents(events, 'forwardExtremities');
  const cited = new Set<string>();
  for (const event of list) for (const prev of event.prev_events) cited.add(prev);
  const extremities = new Set<string>();
  for (const event of list) if (!cited.has(event.event_id)) extremities.add(event.event_id);
  return [...extremities].sort();
}

/**
 * The forward extremities after adding `event` to a room whose extremities were `current`: the
 * event's `prev_events` stop being extremities and the event becomes one. (Soft-failed events
 * are not added, per server-server-api "Soft failure"; the caller decides that.)
 */
export function updateForwardExtremities(current: Iterable<string>, event: DagEvent): string[] {
  const extremities = new Set(current);
  for (const prev of event.prev_events) extremities.delete(prev);
  extremities.add(event.event_id);
  return [...extremities].sort();
}
