/**
 * Reverse topological power ordering (spec rooms/fragments/v2-state-res.md "Reverse topological
 * power ordering"): the lexicographically smallest topological order of the auth DAG, earliest
 * first, choosing among ready events by sender power (descending), then `origin_server_ts`,
 * then `event_id`.
 */
import { authClosureOrder } from '../dag/auth-walk.ts';
import type { ResolveContext } from './context.ts';
import { MinHeap } from './heap.ts';

/**
 * Sorts `selected` (indices of loaded events) by reverse topological power ordering.
 *
 * Kahn's algorithm runs over the whole auth closure of `selected`, so an ordering constraint that
 * passes through an event outside `selected` (x → y → z with only x and z selected) is still
 * honoured. Events outside `selected` are released as soon as they are ready and never emitted;
 * selected events wait in a heap keyed by the spec's comparison. O((V + E) + S log S).
 */
export function reverseTopologicalPowerOrder(
  context: ResolveContext,
  selected: readonly number[],
): number[] {
  const { index } = context;
  const closure = authClosureOrder(index, selected);
  const size = index.size;
  const isSelected = new Uint8Array(size);
  for (const node of selected) isSelected[node] = 1;

  // Children (events citing a node) in compressed form, and pending auth-parent counts.
  const pending = new Int32Array(size);
  const childCount = new Int32Array(size + 1);
  for (const node of closure) {
    const auth = index.authOf(node);
    pending[node] = auth.length;
    for (const parent of auth) childCount[parent] = (childCount[parent] as number) + 1;
  }
  const start = new Int32Array(size + 1);
  for (let i = 0; i < size; i += 1) start[i + 1] = (start[i] as number) + (childCount[i] as number);
  const fill = start.slice(0, size);
  const children = new Int32Array(start[size] as number);
  for (const node of closure) {
    for (const parent of index.authOf(node)) {
      children[fill[parent] as number] = node;
      fill[parent] = (fill[parent] as number) + 1;
    }
  }

  const power = new Float64Array(size);
  for (const node of selected) power[node] = context.senderPowerAt(node);
  const events = index.events;
  const ids = index.ids;
  // x < y: greater sender power, then smaller origin_server_ts, then smaller event_id.
  const less = (a: number, b: number): boolean => {
    const pa = power[a] as number;
    const pb = power[b] as number;
    if (pa !== pb) return pa > pb;
    const ta = events[a]?.origin_server_ts ?? 0;
    const tb = events[b]?.origin_server_ts ?? 0;
    if (ta !== tb) return ta < tb;
    return (ids[a] as string) < (ids[b] as string);
  };

  const heap = new MinHeap(less);
  const free: number[] = [];
  const release = (node: number): void => {
    if (isSelected[node] === 1) heap.push(node);
    else free.push(node);
  };
  for (const node of closure) if (pending[node] === 0) release(node);

  const sorted: number[] = [];
  const finish = (node: number): void => {
    const end = start[node + 1] as number;
    for (let c = start[node] as number; c < end; c += 1) {
      const child = children[c] as number;
      const left = (pending[child] as number) - 1;
      pending[child] = left;
      if (left === 0) release(child);
    }
  };
  for (;;) {
    // Unselected events carry no choice: release them before picking the next selected one.
    const node = free.length > 0 ? free.pop() : heap.pop();
    if (node === undefined) break;
    if (isSelected[node] === 1) sorted.push(node);
    finish(node);
  }
  return sorted;
}
