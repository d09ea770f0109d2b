/**
 * Iterative auth checks (spec rooms/fragments/v2-state-res.md "Iterative auth checks").
 */
import { checkAuth } from '../auth/check-auth.ts';
import { authEventsSelection } from '../auth/selection.ts';
import { type DagEvent, type StateKey, stateKeyOf } from '../event.ts';
import { CREATE_KEY, type ResolveContext } from './context.ts';
import type { PartialState } from './partial-state.ts';

/**
 * Applies the sorted `nodes` to the partially resolved `state`, in place: each state event that
 * passes the authorization rules replaces its key; any other is ignored.
 *
 * Each event is checked against the state built from its own non-rejected `auth_events`,
 * overlaid with the entries of `state` for the keys the event needs ("auth events selection",
 * server-server-api), skipping rejected ones; in v12 the create event named by the room ID is
 * added. Rule 3 (the `auth_events` list itself) is not re-run: it was checked on receipt. Events
 * already rejected on receipt are never admitted, so a rejected event cannot enter the resolved
 * state.
 */
export function iterativeAuthChecks(
  context: ResolveContext,
  nodes: readonly number[],
  state: PartialState,
): void {
  const { index, rules } = context;
  const events = index.events;
  for (const node of nodes) {
    const event = events[node];
    if (event === undefined || event.rejected === true || typeof event.state_key !== 'string') {
      continue;
    }
    const authState = new Map<StateKey, DagEvent>();
    for (const auth of index.authOf(node)) {
      const authEvent = events[auth];
      if (
        authEvent !== undefined &&
        authEvent.rejected !== true &&
        typeof authEvent.state_key === 'string'
      ) {
        authState.set(context.keyOf(auth, authEvent.type, authEvent.state_key), authEvent);
      }
    }
    for (const [type, stateKey] of authEventsSelection(event, rules)) {
      const key = stateKeyOf(type, stateKey);
      const current = state.get(key);
      const currentEvent = current === undefined ? undefined : events[current];
      if (currentEvent !== undefined && currentEvent.rejected !== true) {
        authState.set(key, currentEvent);
      }
    }
    const create = context.impliedCreateOf(event);
    if (create !== undefined && !authState.has(CREATE_KEY)) {
      const createEvent = events[create];
      if (createEvent !== undefined) authState.set(CREATE_KEY, createEvent);
    }
    if (checkAuth(event, authState, rules, context.authOptions).allowed) {
      state.set(context.keyOf(node, event.type, event.state_key), node);
    }
  }
}

/** The state keys `nodes` consult in the state (to prefetch the events behind them in one batch). */
export function consultedKeys(context: ResolveContext, nodes: readonly number[]): Set<StateKey> {
  const keys = new Set<StateKey>();
  for (const node of nodes) {
    const event = context.index.events[node];
    if (event === undefined) continue;
    for (const [type, stateKey] of authEventsSelection(event, context.rules)) {
      keys.add(stateKeyOf(type, stateKey));
    }
  }
  return keys;
}
