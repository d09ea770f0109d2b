/**
 * The state before a received event (spec https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu,
 * step 5, and "Room State Resolution"): the states after each of its prev events, resolved with
 * the room version's algorithm (`stateBeforeEvent`). A prev event's state comes from its state
 * group, or — after a gap too big for `get_missing_events` — from the state the origin reported
 * with `/state_ids` (fetch-missing.ts).
 */
import { type DagEvent, type StateMap, stateBeforeEvent } from '@weft/dag';

import type { SqlExecutor } from '../../../storage/index.ts';
import { toDagEvent } from '../../rooms/auth.ts';
import type { RoomService } from '../../rooms/index.ts';
import { type CheckedPdu, PduRejection } from './types.ts';

/**
 * The state before `checked`. `knownStates` supplies states after prev events that have no
 * state group (outliers whose state was fetched).
 */
export async function stateBefore(
  db: SqlExecutor,
  rooms: RoomService,
  checked: CheckedPdu,
  knownStates: ReadonlyMap<string, StateMap> = new Map(),
): Promise<Map<string, string>> {
  const prevs = await rooms.events.getMany(db, checked.dag.prev_events, false);
  const states: StateMap[] = [];
  for (const id of checked.dag.prev_events) {
    const known = knownStates.get(id);
    if (known !== undefined) {
      states.push(known);
      continue;
    }
    const prev = prevs.get(id);
    if (prev?.stateGroup == null) {
      throw new PduRejection('state-before', `no state known after prev event ${id}`);
    }
    states.push(await rooms.states.get(db, prev.stateGroup));
  }
  const fetchEvents = async (ids: readonly string[]): Promise<DagEvent[]> => {
    const found = await rooms.events.getMany(db, ids, false);
    return [...found.values()].map(toDagEvent);
  };
  return stateBeforeEvent(checked.rules, states, fetchEvents);
}
