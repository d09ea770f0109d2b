/**
 * A state resolver that keeps what it fetched between calls, for a server that resolves the same
 * room's states again and again (every new event with several prev events, every change of the
 * forward extremities).
 */
import { EventIndex } from '../dag/event-index.ts';
import type { FetchEvents } from '../dag/fetch.ts';
import type { StateKey, StateMap } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import {
  type AuthChainOf,
  checkArguments,
  type ResolveStateOptions,
  resolveIn,
} from './resolve.ts';

/** Resolves states of one room, reusing the events and auth edges it has fetched. */
export interface StateResolver {
  /** As {@link resolveState} with the resolver's rules and store. */
  resolve(
    stateSets: readonly StateMap[],
    authChainOf?: AuthChainOf,
    options?: ResolveStateOptions,
  ): Promise<Map<StateKey, string>>;
}

/**
 * A {@link StateResolver} for one room: like calling `resolveState(rules, …, fetchEvents, …)`
 * each time, but every event fetched once stays in memory (as an integer-indexed entry with its
 * auth edges), so later resolutions fetch and index only what is new. Events are immutable, so
 * the cache never goes stale; events the store lacked are asked for again on the next call.
 * Calls run one after another (a call waits for the previous one). Memory grows with the events
 * seen: use one resolver per room and drop it when the room goes idle.
 *
 * @throws TypeError when `rules` or `fetchEvents` have the wrong type.
 */
export function createStateResolver(
  rules: RoomVersionRules,
  fetchEvents: FetchEvents,
): StateResolver {
  checkArguments(rules, [], fetchEvents, undefined, {});
  const index = new EventIndex(fetchEvents);
  let previous: Promise<unknown> = Promise.resolve();
  return {
    async resolve(stateSets, authChainOf, options = {}) {
      checkArguments(rules, stateSets, fetchEvents, authChainOf, options);
      const run = previous.then(() => {
        index.retryMissing();
        return resolveIn(() => index, rules, stateSets, authChainOf, options);
      });
      previous = run.catch(() => undefined);
      return run;
    },
  };
}
