/**
 * Splitting state sets into the unconflicted state map and the conflicted state set (spec
 * rooms/fragments/v2-state-res.md "Unconflicted state map and conflicted state set").
 */
import type { StateKey, StateMap } from '../event.ts';

export interface SplitState {
  /** Keys present in every state set with the same event. */
  readonly unconflicted: Map<StateKey, string>;
  /** Every event of a key that is absent from some set or differs between sets (deduplicated). */
  readonly conflicted: Set<string>;
}

/** One pass over each set: O(total entries). */
export function splitConflicted(stateSets: readonly StateMap[]): SplitState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Set<string>();
  const [first, ...rest] = stateSets;
  if (first === undefined) return { unconflicted, conflicted };
  for (const [key, eventId] of first) {
    let same = true;
    for (const other of rest) {
      if (other.get(key) !== eventId) {
        same = false;
        break;
      }
    }
    if (same) {
      unconflicted.set(key, eventId);
    } else {
      for (const set of stateSets) {
        const value = set.get(key);
        if (value !== undefined) conflicted.add(value);
      }
    }
  }
  // Keys missing from the first set are conflicted by definition.
  for (const other of rest) {
    for (const [key, eventId] of other) {
      if (!first.has(key)) conflicted.add(eventId);
    }
  }
  return { unconflicted, conflicted };
}
