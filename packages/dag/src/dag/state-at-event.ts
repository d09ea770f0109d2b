/**
 * The room state before and after an event (spec rooms/fragments/v2-state-res.md, opening
 * paragraphs): S′(E) = S(E) with E's key set to E if E is a state event; S(E) = the resolution
 * of {S′(E₁), S′(E₂), …} over E's prev events.
 */
import { type DagEvent, type StateKey, type StateMap, stateKeyOf } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { type AuthChainOf, type ResolveStateOptions, resolveState } from '../state-res/resolve.ts';
import type { FetchEvents } from './fetch.ts';

/**
 * S(E), the state before an event, from the states after each of its prev events: empty for
 * none (the create event), that state for one, their resolution for several (`authChainOf` and
 * `options` as for {@link resolveState}).
 *
 * @throws DagError as {@link resolveState}; TypeError for arguments of the wrong type.
 */
export async function stateBeforeEvent(
  rules: RoomVersionRules,
  statesAfterPrevEvents: readonly StateMap[],
  fetchEvents: FetchEvents,
  authChainOf?: AuthChainOf,
  options?: ResolveStateOptions,
): Promise<Map<StateKey, string>> {
  if (!Array.isArray(statesAfterPrevEvents)) {
    throw new TypeError('stateBeforeEvent: statesAfterPrevEvents must be an array of state maps');
  }
  const [only, ...others] = statesAfterPrevEvents;
  if (only === undefined) return new Map();
  if (others.length === 0) return new Map(only);
  return resolveState(rules, statesAfterPrevEvents, fetchEvents, authChainOf, options);
}

/**
 * S′(E), the state after an event: `stateBefore` with E's `(type, state_key)` set to E when E is
 * a state event; unchanged for a message event or an event rejected on receipt (a rejected
 * event never becomes state).
 */
export function stateAfterEvent(event: DagEvent, stateBefore: StateMap): Map<StateKey, string> {
  const after = new Map(stateBefore);
  if (typeof event.state_key === 'string' && event.rejected !== true) {
    after.set(stateKeyOf(event.type, event.state_key), event.event_id);
  }
  return after;
}
