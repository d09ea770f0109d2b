/**
 * Auth chains and the auth chain difference (spec rooms/fragments/v2-state-res.md "Auth chain",
 * "Auth difference"), over the caller's storage.
 */
import { requireFetch, requireIds } from './args.ts';
import { authClosureOrder, authDifferenceIndexed } from './auth-walk.ts';
import { EventIndex } from './event-index.ts';
import type { FetchEvents } from './fetch.ts';

/**
 * The auth chain of the given events: every event reachable through `auth_events`, recursively,
 * not counting the given events themselves (unless one cites another). Events the store lacks
 * end their branch of the walk.
 *
 * Fetches one batch per layer of the walk.
 *
 * @throws DagError `cycle` when the auth events form a cycle.
 */
export async function authChain(
  eventIds: Iterable<string>,
  fetchEvents: FetchEvents,
): Promise<Set<string>> {
  const ids = requireIds(eventIds, 'authChain');
  requireFetch(fetchEvents, 'authChain');
  const index = new EventIndex(fetchEvents);
  const roots = ids.map((id) => index.intern(id));
  await index.loadAuthClosure(roots);
  const starts: number[] = [];
  for (const root of roots) starts.push(...index.authOf(root));
  const chain = new Set<string>();
  for (const node of authClosureOrder(index, starts)) chain.add(index.ids[node] as string);
  return chain;
}

/**
 * The auth chain difference of state sets, each given as the event IDs it holds: the events in
 * the full auth chain of some set but not of all (∪ Cᵢ − ∩ Cᵢ).
 *
 * A set's full auth chain Cᵢ includes the set's own events (see the README: this is Synapse's
 * reading; it keeps events common to all sets out of the difference). Runs in time linear in the
 * size of the union of the chains (one bitset per event, one bit per set), loading the chains in
 * one batch per layer.
 *
 * @throws DagError `cycle` when the auth events form a cycle.
 */
export async function authChainDifference(
  stateSets: readonly Iterable<string>[],
  fetchEvents: FetchEvents,
): Promise<Set<string>> {
  if (!Array.isArray(stateSets)) {
    throw new TypeError('authChainDifference: stateSets must be an array of event ID lists');
  }
  requireFetch(fetchEvents, 'authChainDifference');
  const index = new EventIndex(fetchEvents);
  const sets = stateSets.map((set) =>
    requireIds(set, 'authChainDifference').map((id) => index.intern(id)),
  );
  // Events held by every set are walked once and marked for all sets at once.
  const count = new Int32Array(index.size);
  const lastSet = new Int32Array(index.size);
  sets.forEach((set, i) => {
    for (const node of set) {
      if (lastSet[node] !== i + 1) {
        lastSet[node] = i + 1;
        count[node] = (count[node] as number) + 1;
      }
    }
  });
  const common: number[] = [];
  for (let node = 0; node < count.length; node += 1) {
    if (count[node] === sets.length) common.push(node);
  }
  const own = sets.map((set) => set.filter((node) => count[node] !== sets.length));
  await index.loadAuthClosure([...common, ...own.flat()]);
  const difference = new Set<string>();
  for (const node of authDifferenceIndexed(index, common, own))
    difference.add(index.ids[node] as string);
  return difference;
}
