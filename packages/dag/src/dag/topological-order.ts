/**
 * A topological order of room events by `prev_events`, for pagination and for walking a DAG in
 * an order where every event comes after the events it cites (spec client-server "Syncing" /
 * "/messages" use such an order; server-server-api "Backfilling" returns events in reverse).
 */
import { DagError } from '../errors.ts';
import type { DagEvent } from '../event.ts';
import { MinHeap } from '../state-res/heap.ts';
import { requireEvents } from './args.ts';

/**
 * `events` ordered so that each event follows every event of the list it cites in
 * `prev_events` (oldest first). Among events that are ready together, the smaller `depth` comes
 * first, then the smaller `origin_server_ts`, then the smaller `event_id`, so the order is
 * deterministic. Prev events outside the list are ignored (the list may be a slice of the room).
 * Duplicate event IDs keep their first occurrence.
 *
 * Kahn's algorithm with a heap: O((n + e) log n).
 *
 * @throws DagError `cycle` when the events' `prev_events` form a cycle.
 * @throws TypeError when `events` is not an iterable of events.
 */
export function topologicalOrder(events: Iterable<DagEvent>): DagEvent[] {
  const list: DagEvent[] = [];
  const position = new Map<string, number>();
  for (const event of requireEvents(events, 'topologicalOrder')) {
    if (position.has(event.event_id)) continue;
    position.set(event.event_id, list.length);
    list.push(event);
  }
  const n = list.length;
  const pending = new Int32Array(n);
  const children: number[][] = list.map(() => []);
  list.forEach((event, i) => {
    for (const prev of new Set(event.prev_events)) {
      const p = position.get(prev);
      if (p === undefined) continue;
      pending[i] = (pending[i] as number) + 1;
      (children[p] as number[]).push(i);
    }
  });
  const heap = new MinHeap((a, b) => {
    const x = list[a] as DagEvent;
    const y = list[b] as DagEvent;
    if (x.depth !== y.depth) return x.depth < y.depth;
    if (x.origin_server_ts !== y.origin_server_ts) return x.origin_server_ts < y.origin_server_ts;
    return x.event_id < y.event_id;
  });
  for (let i = 0; i < n; i += 1) if (pending[i] === 0) heap.push(i);
  const ordered: DagEvent[] = [];
  for (let i = heap.pop(); i !== undefined; i = heap.pop()) {
    ordered.push(list[i] as DagEvent);
    for (const child of children[i] as number[]) {
      const left = (pending[child] as number) - 1;
      pending[child] = left;
      if (left === 0) heap.push(child);
    }
  }
  if (ordered.length < n) {
    const stuck = list.find((_, i) => (pending[i] as number) > 0);
    throw new DagError('cycle', 'prev_events form a cycle', { eventId: stuck?.event_id ?? '' });
  }
  return ordered;
}
