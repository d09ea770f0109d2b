/**
 * State resolution v2 (room versions 10, 11) and v2.1 (room version 12): spec
 * content/rooms/fragments/v2-state-res.md "Algorithm", with v12's changes from
 * content/rooms/v12.md "State resolution" (MSC4297).
 *
 * Storage-agnostic: events come from the caller's `fetchEvents`, fetched in batches; inside a
 * run every event is a small integer (see `EventIndex`).
 */

import type { CheckAuthOptions } from '../auth/check-auth.ts';
import { authDifferenceIndexed, conflictedSubgraphIndexed } from '../dag/auth-walk.ts';
import { EventIndex } from '../dag/event-index.ts';
import type { FetchEvents } from '../dag/fetch.ts';
import { DagError } from '../errors.ts';
import type { StateKey, StateMap } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { POWER_LEVELS_KEY, ResolveContext } from './context.ts';
import { consultedKeys, iterativeAuthChecks } from './iterative-auth.ts';
import { mainlineOrder } from './mainline.ts';
import { PartialState } from './partial-state.ts';
import { isPowerEvent } from './power-events.ts';
import { reverseTopologicalPowerOrder } from './power-ordering.ts';
import { splitConflicted } from './split.ts';

/**
 * Optional storage shortcut for {@link resolveState}: the union of the auth chains of the given
 * events (not necessarily including the events themselves), e.g. answered from a chain-cover
 * index. When supplied, the auth difference is computed from it and only the conflicted part of
 * the room is fetched; when absent, the auth chains are walked through `fetchEvents`.
 */
export type AuthChainOf = (
  eventIds: readonly string[],
) => Iterable<string> | Promise<Iterable<string>>;

/** Optional behaviour of {@link resolveState}. */
export interface ResolveStateOptions {
  /**
   * Passed to `checkAuth` in the iterative auth checks: checks a third-party invite's signatures
   * against the public keys of the `m.room.third_party_invite` event in the partially resolved
   * state (which may differ from the one the event was first checked against). Default: Ed25519
   * verification with `@weft/signing`.
   */
  readonly verifyThirdPartyInviteSignature?: NonNullable<
    CheckAuthOptions['verifyThirdPartyInviteSignature']
  >;
}

/**
 * Resolves a set of room states into one (spec "State resolution", room versions 10–12).
 *
 * @param rules the room version's rules; `rules.stateResolution` selects v2 or v2.1.
 * @param stateSets the states to resolve, each `(type, state_key)` → event ID (e.g. the states
 *   after each prev event of a new event).
 * @param fetchEvents returns the requested events the store has; every event of the state sets
 *   and of their auth chains should be available.
 * @param authChainOf optional: see {@link AuthChainOf}.
 * @param options optional: see {@link ResolveStateOptions}.
 * @returns the resolved state, `(type, state_key)` → event ID.
 * @throws DagError `missing-event` when an event of a state set cannot be fetched; `cycle` when
 *   `auth_events` form a cycle. TypeError for arguments of the wrong type.
 */
export async function resolveState(
  rules: RoomVersionRules,
  stateSets: readonly StateMap[],
  fetchEvents: FetchEvents,
  authChainOf?: AuthChainOf,
  options: ResolveStateOptions = {},
): Promise<Map<StateKey, string>> {
  checkArguments(rules, stateSets, fetchEvents, authChainOf, options);
  return resolveIn(() => new EventIndex(fetchEvents), rules, stateSets, authChainOf, options);
}

/**
 * The algorithm over an event index from `indexFor` (a fresh one per call for `resolveState`,
 * a long-lived one for `createStateResolver`). Arguments are checked by the caller.
 */
export async function resolveIn(
  indexFor: () => EventIndex,
  rules: RoomVersionRules,
  stateSets: readonly StateMap[],
  authChainOf: AuthChainOf | undefined,
  options: ResolveStateOptions,
): Promise<Map<StateKey, string>> {
  // Definitions: unconflicted state map and conflicted state set.
  const { unconflicted, conflicted, conflictedBySet } = splitConflicted(stateSets);
  if (conflicted.size === 0) return unconflicted;

  const index = indexFor();
  const verify = options.verifyThirdPartyInviteSignature;
  const context = new ResolveContext(
    index,
    rules,
    verify === undefined ? {} : { verifyThirdPartyInviteSignature: verify },
  );
  const conflictedNodes = [...conflicted].map((id) => index.intern(id));

  // Definitions: auth difference (∪ Cᵢ − ∩ Cᵢ).
  let difference: number[];
  if (authChainOf === undefined) {
    // Every set holds the unconflicted events: they are walked once, marked for all sets.
    const common = [...unconflicted.values()].map((id) => index.intern(id));
    const sets = conflictedBySet.map((ids) => ids.map((id) => index.intern(id)));
    await index.loadAuthClosure([...conflictedNodes, ...common]);
    requireLoaded(index, conflictedNodes);
    requireLoaded(index, common);
    difference = authDifferenceIndexed(index, common, sets);
  } else {
    difference = (await differenceFromChains(stateSets, authChainOf)).map((id) => index.intern(id));
    await index.loadAuthClosure([...conflictedNodes, ...difference]);
    requireLoaded(index, conflictedNodes);
  }

  // Full conflicted set = conflicted state set ∪ auth difference (∪ conflicted state subgraph in
  // v2.1, rooms/v12.md). Events the store does not have cannot take part.
  const inFull = new Uint8Array(index.size);
  const full: number[] = [];
  const addFull = (node: number): void => {
    if (inFull[node] === 0 && index.events[node] !== undefined) {
      inFull[node] = 1;
      full.push(node);
    }
  };
  for (const node of conflictedNodes) addFull(node);
  for (const node of difference) addFull(node);
  if (rules.stateResolution.considerConflictedStateSubgraph) {
    for (const node of conflictedSubgraphIndexed(index, conflictedNodes)) addFull(node);
  }
  await context.loadImpliedCreates(full);

  // Step 1: X = the power events of the full conflicted set, enlarged by the events of their
  // auth chains that are in the full conflicted set; sorted by reverse topological power order.
  // The auth chains are followed only through `auth_events` edges whose target is in the full
  // conflicted set, and the ordering sees only those edges: an event of the set reachable only
  // through events outside it is not in X (it is left to the mainline ordering of step 3). This is
  // how Synapse (`_add_event_and_auth_chain_to_graph`, synapse/state/v2.py) and Ruma
  // (`add_event_and_auth_chain_to_graph`, ruma-state-res) compute step 1, and a server that
  // disagrees with them resolves differently.
  const inX = new Uint8Array(index.size);
  const x: number[] = [];
  const walk: number[] = [];
  for (const node of full) {
    const event = index.events[node];
    if (event !== undefined && isPowerEvent(event)) {
      inX[node] = 1;
      x.push(node);
      walk.push(node);
    }
  }
  for (let node = walk.pop(); node !== undefined; node = walk.pop()) {
    for (const auth of index.authOf(node)) {
      if (inFull[auth] === 1 && inX[auth] === 0) {
        inX[auth] = 1;
        x.push(auth);
        walk.push(auth);
      }
    }
  }
  const sortedPower = reverseTopologicalPowerOrder(context, x);

  // Step 2: iterative auth checks over X, from the unconflicted state map (v2) or from an empty
  // state map (v2.1).
  const partial = new PartialState(
    index,
    rules.stateResolution.beginIterativeAuthChecksWithEmptyState ? new Map() : unconflicted,
  );
  await loadConsulted(context, sortedPower, partial);
  iterativeAuthChecks(context, sortedPower, partial);

  // Step 3: the remaining events, by mainline ordering on the partially resolved power levels.
  const rest = full.filter((node) => inX[node] === 0);
  const powerLevels = partial.get(POWER_LEVELS_KEY);
  if (powerLevels !== undefined) await index.loadAuthClosure([powerLevels]);
  const ordered = mainlineOrder(context, rest, powerLevels);

  // Step 4: iterative auth checks over them, on the partially resolved state.
  await loadConsulted(context, ordered, partial);
  iterativeAuthChecks(context, ordered, partial);

  // Step 5: the unconflicted state map wins for every key it has; the other keys take the
  // partially resolved state's entries. (In v2 the unconflicted map is the partial state's base,
  // so adding the written entries to it gives the same result without copying it; it is this
  // function's own map and no longer read.)
  const resolved = unconflicted;
  for (const [key, node] of partial.written) {
    if (!resolved.has(key)) resolved.set(key, index.ids[node] as string);
  }
  return resolved;
}

/** ∪ Cᵢ − ∩ Cᵢ from the caller's auth chains, Cᵢ including set i's own events. */
async function differenceFromChains(
  stateSets: readonly StateMap[],
  authChainOf: AuthChainOf,
): Promise<string[]> {
  const chains = await Promise.all(
    stateSets.map(async (set) => {
      const ids = [...set.values()];
      const chain = new Set<string>(ids);
      for (const id of await authChainOf(ids)) chain.add(id);
      return chain;
    }),
  );
  const count = new Map<string, number>();
  for (const chain of chains) for (const id of chain) count.set(id, (count.get(id) ?? 0) + 1);
  const difference: string[] = [];
  for (const [id, n] of count) if (n < chains.length) difference.push(id);
  return difference;
}

/** Fetches, in one batch, the events behind the state entries the next checks will consult. */
async function loadConsulted(
  context: ResolveContext,
  nodes: readonly number[],
  state: PartialState,
): Promise<void> {
  const wanted: number[] = [];
  for (const key of consultedKeys(context, nodes)) {
    const node = state.get(key);
    if (node !== undefined) wanted.push(node);
  }
  await context.index.load(wanted);
}

function requireLoaded(index: EventIndex, nodes: readonly number[]): void {
  for (const node of nodes) {
    if (index.events[node] === undefined) {
      const eventId = index.ids[node] as string;
      throw new DagError('missing-event', 'an event of a state set could not be fetched', {
        eventId,
      });
    }
  }
}

/** TypeErrors for arguments of the wrong type (shared with `createStateResolver`). */
export function checkArguments(
  rules: unknown,
  stateSets: unknown,
  fetchEvents: unknown,
  authChainOf: unknown,
  options: unknown,
): void {
  const stateResolution = (rules as { stateResolution?: unknown } | null)?.stateResolution;
  if (typeof stateResolution !== 'object' || stateResolution === null) {
    throw new TypeError('resolveState: rules must be a RoomVersionRules object');
  }
  if (!Array.isArray(stateSets) || !stateSets.every((set) => set instanceof Map)) {
    throw new TypeError('resolveState: stateSets must be an array of Maps');
  }
  for (const set of stateSets as Map<unknown, unknown>[]) {
    let wellTyped = true;
    set.forEach((value, key) => {
      if (typeof key !== 'string' || typeof value !== 'string') wellTyped = false;
    });
    if (!wellTyped) {
      throw new TypeError('resolveState: state maps must map StateKey strings to event IDs');
    }
  }
  if (typeof fetchEvents !== 'function') {
    throw new TypeError('resolveState: fetchEvents must be a function');
  }
  if (authChainOf !== undefined && typeof authChainOf !== 'function') {
    throw new TypeError('resolveState: authChainOf must be a function when given');
  }
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('resolveState: options must be an object when given');
  }
}
