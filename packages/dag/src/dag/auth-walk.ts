/**
 * Linear-time walks over the `auth_events` graph of an {@link EventIndex}: a topological order of
 * an auth closure, per-state-set reachability (for the auth difference) and the conflicted state
 * subgraph. Each runs in O(V + E) over the closure it is given; none compares sets pairwise.
 */
import { DagError } from '../errors.ts';
import type { EventIndex } from './event-index.ts';

/**
 * Every index reachable from `roots` through auth edges (roots included), ordered so that each
 * event comes after all of its auth events ("ancestors first"). The events must be loaded.
 *
 * @throws DagError `cycle` when the auth events form a cycle.
 */
export function authClosureOrder(index: EventIndex, roots: Iterable<number>): Int32Array {
  const size = index.size;
  const state = new Uint8Array(size); // 0 unvisited, 1 on the DFS stack, 2 emitted
  const order = new Int32Array(size);
  let emitted = 0;
  const stack: number[] = [];
  const cursor: number[] = [];
  for (const root of roots) {
    if (state[root] !== 0) continue;
    state[root] = 1;
    stack.push(root);
    cursor.push(0);
    while (stack.length > 0) {
      const top = stack.length - 1;
      const node = stack[top] as number;
      const auth = index.authOf(node);
      const at = cursor[top] as number;
      if (at < auth.length) {
        cursor[top] = at + 1;
        const next = auth[at] as number;
        const seen = state[next];
        if (seen === 0) {
          state[next] = 1;
          stack.push(next);
          cursor.push(0);
        } else if (seen === 1) {
          throw new DagError('cycle', 'auth_events form a cycle', { eventId: index.ids[next] });
        }
      } else {
        state[node] = 2;
        order[emitted] = node;
        emitted += 1;
        stack.pop();
        cursor.pop();
      }
    }
  }
  return order.subarray(0, emitted);
}

/**
 * The auth difference of state sets (spec rooms/fragments/v2-state-res.md "Auth difference"):
 * ∪ Cᵢ − ∩ Cᵢ, where Cᵢ is the full auth chain of set i. Set i is `common` plus `sets[i]`
 * (`common`: events every set holds, e.g. the unconflicted state; they are marked for all sets
 * at once instead of once per set).
 *
 * Cᵢ here includes the events of set i themselves, as Synapse's chain-cover implementation does:
 * an event present in every state set is then never in the difference (the spec's wording omits
 * the set's own events; the two readings differ only for an unconflicted event that no other
 * event of some set cites, which step 5 of the algorithm overwrites anyway).
 *
 * Algorithm: one reachability bitset per event (one bit per state set), propagated from events
 * to their auth events in reverse topological order, so the cost is O((V + E) · ⌈k / 32⌉) for
 * V events and E auth edges in the union of the chains, k state sets: never quadratic in V.
 * The events must be loaded.
 */
export function authDifferenceIndexed(
  index: EventIndex,
  common: readonly number[],
  sets: readonly (readonly number[])[],
): number[] {
  const k = sets.length;
  if (k < 2) return [];
  const words = Math.ceil(k / 32);
  const full = new Uint32Array(words);
  for (let i = 0; i < k; i += 1) full[i >>> 5] = (full[i >>> 5] as number) | (1 << (i & 31));
  const roots: number[] = [...common];
  for (const set of sets) for (const event of set) roots.push(event);
  const order = authClosureOrder(index, roots);
  const reach = new Uint32Array(index.size * words);
  for (const event of common) reach.set(full, event * words);
  sets.forEach((set, i) => {
    const word = i >>> 5;
    const bit = 1 << (i & 31);
    for (const event of set) {
      const at = event * words + word;
      reach[at] = (reach[at] as number) | bit;
    }
  });
  // Descendants first: each event hands its bits down to its auth events.
  for (let o = order.length - 1; o >= 0; o -= 1) {
    const node = order[o] as number;
    const from = node * words;
    for (const auth of index.authOf(node)) {
      const to = auth * words;
      for (let w = 0; w < words; w += 1) {
        reach[to + w] = (reach[to + w] as number) | (reach[from + w] as number);
      }
    }
  }
  const difference: number[] = [];
  for (const node of order) {
    const base = node * words;
    for (let w = 0; w < words; w += 1) {
      if (reach[base + w] !== full[w]) {
        difference.push(node);
        break;
      }
    }
  }
  return difference;
}

/**
 * The conflicted state subgraph (spec rooms/v12.md "Conflicted state subgraph"): every event on
 * an `auth_events` path from one conflicted event to another, endpoints included.
 *
 * An event is on such a path exactly when it lies strictly below some conflicted event and some
 * conflicted event lies at or below it; both facts are one linear pass each over the closure.
 */
export function conflictedSubgraphIndexed(
  index: EventIndex,
  conflicted: readonly number[],
): number[] {
  const order = authClosureOrder(index, conflicted);
  const isConflicted = new Uint8Array(index.size);
  for (const event of conflicted) isConflicted[event] = 1;
  // reaches[v]: a conflicted event is reachable from v (v itself counts).
  const reaches = new Uint8Array(index.size);
  for (const node of order) {
    if (isConflicted[node] === 1) {
      reaches[node] = 1;
      continue;
    }
    for (const auth of index.authOf(node)) {
      if (reaches[auth] === 1) {
        reaches[node] = 1;
        break;
      }
    }
  }
  // below[v]: v is reachable from a conflicted event by at least one edge.
  const below = new Uint8Array(index.size);
  for (let o = order.length - 1; o >= 0; o -= 1) {
    const node = order[o] as number;
    if (isConflicted[node] === 0 && below[node] === 0) continue;
    for (const auth of index.authOf(node)) below[auth] = 1;
  }
  const subgraph: number[] = [];
  for (const node of order) {
    if (below[node] === 1 && reaches[node] === 1) {
      subgraph.push(node);
    }
  }
  // Endpoints that start a path (conflicted events with a conflicted event below them).
  for (const node of conflicted) {
    if (below[node] === 0 && startsPath(index, node, reaches)) subgraph.push(node);
  }
  return subgraph;
}

function startsPath(index: EventIndex, node: number, reaches: Uint8Array): boolean {
  for (const auth of index.authOf(node)) if (reaches[auth] === 1) return true;
  return false;
}
