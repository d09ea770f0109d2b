/**
 * Reverse topological power ordering (spec rooms/fragments/v2-state-res.md "Reverse topological
 * power ordering"): the lexicographically smallest topological order of the auth DAG, earliest
 * first, choosing among ready events by sender power (descending), then `origin_server_ts`,
 * then `event_id`.
 */
import { DagError } from '../errors.ts';
import type { ResolveContext } from './context.ts';
import { MinHeap } from './heap.ts';

/**
 * Sorts `selected` (indices of loaded events, the set X of step 1) by reverse topological power
 * ordering.
 *
 * The graph is X with the `auth_events` edges between two events of X only, as Synapse
 * (`_reverse_topological_power_sort` over the graph `_add_event_and_auth_chain_to_graph` builds
 * from the full conflicted set, synapse/state/v2.py) and Ruma (`reverse_topological_power_sort`,
 * ruma-state-res) sort it: a path through an event outside X (x → y → z with y unselected)
 * imposes no order between x and z, which the power comparison then decides. Kahn's algorithm
 * with a heap keyed by the spec's comparison: O(V + E + V log V) over X.
 *
 * @throws DagError `cycle` when the auth events among `selected` form a cycle.
 */
export function reverseTopologicalPowerOrder(
  context: ResolveContext,
  selected: readonly number[],
): number[] {
  const { index } = context;
  const size = index.size;
  const isSelected = new Uint8Array(size);
  for (const node of selected) isSelected[node] = 1;

  // For each selected node, its distinct selected auth events (duplicates in auth_events count
  // once, as Synapse's edge sets do); children (selected events citing a node) in compressed form.
  const parents = new Map<number, number[]>();
  const pending = new Int32Array(size);
  const childCount = new Int32Array(size + 1);
  for (const node of selected) {
    if (parents.has(node)) continue;
    const own: number[] = [];
    for (const parent of index.authOf(node)) {
      if (isSelected[parent] === 1 && !own.includes(parent)) {
        own.push(parent);
        childCount[parent] = (childCount[parent] as number) + 1;
      }
    }
    parents.set(node, own);
    pending[node] = own.length;
  }
  const start = new Int32Array(size + 1);
  for (let i = 0; i < size; i += 1) start[i + 1] = (start[i] as number) + (childCount[i] as number);
  const fill = start.slice(0, size);
  const children = new Int32Array(start[size] as number);
  for (const [node, own] of parents) {
    for (const parent of own) {
      children[fill[parent] as number] = node;
      fill[parent] = (fill[parent] as number) + 1;
    }
  }

  const power = new Float64Array(size);
  for (const node of parents.keys()) power[node] = context.senderPowerAt(node);
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
  for (const node of parents.keys()) if (pending[node] === 0) heap.push(node);
  const sorted: number[] = [];
  for (let node = heap.pop(); node !== undefined; node = heap.pop()) {
    sorted.push(node);
    const end = start[node + 1] as number;
    for (let c = start[node] as number; c < end; c += 1) {
      const child = children[c] as number;
      const left = (pending[child] as number) - 1;
      pending[child] = left;
      if (left === 0) heap.push(child);
    }
  }
  if (sorted.length < parents.size) {
    const stuck = [...parents.keys()].find((node) => (pending[node] as number) > 0) as number;
    throw new DagError('cycle', 'auth_events form a cycle', { eventId: ids[stuck] });
  }
  return sorted;
}
