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
  /** Per state set, its events that are in the conflicted state set. */
  readonly conflictedBySet: string[][];
}

/** One pass over each set: O(total entries). */
export function splitConflicted(stateSets: readonly StateMap[]): SplitState {
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Set<string>();
  const conflictedBySet: string[][] = stateSets.map(() => []);
  const [first, ...rest] = stateSets;
  if (first === undefined) return { unconflicted, conflicted, conflictedBySet };
  // forEach rather than for…of over entries: no [key, value] array per entry in a large room.
  first.forEach((eventId, key) => {
    for (const other of rest) {
      if (other.get(key) !== eventId) {
        stateSets.forEach((set, i) => {
          const value = set.get(key);
          if (value !== undefined) {
            conflicted.add(value);
            (conflictedBySet[i] as string[]).push(value);
          }
        });
        return;
      }
    }
    unconflicted.set(key, eventId);
  });
  // Keys missing from the first set are conflicted by definition.
  rest.forEach((other, i) => {
    other.forEach((eventId, key) => {
      if (!first.has(key)) {
        conflicted.add(eventId);
        (conflictedBySet[i + 1] as string[]).push(eventId);
      }
    });
  });
  return { unconflicted, conflicted, conflictedBySet };
}
