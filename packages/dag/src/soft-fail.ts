/**
 * Soft failure (spec server-server-api "Checks performed on receipt of a PDU", step 6, and
 * "Soft failure"): an event that passed authorization against its auth events and against the
 * state before it is additionally checked against the room's *current* state (the resolved state
 * across all forward extremities). If it fails there, it is "soft failed": kept and used in state
 * resolution, but not sent to clients nor used as a prev event.
 */
import { type CheckAuthOptions, checkAuth } from './auth/check-auth.ts';
import type { AuthOutcome } from './auth/outcome.ts';
import { authEventsSelection } from './auth/selection.ts';
import { type DagEvent, type StateKey, type StateMap, stateKeyOf } from './event.ts';
import type { RoomVersionRules } from './room-versions.ts';

const CREATE_KEY = stateKeyOf('m.room.create', '');

/**
 * Checks an already authorized `event` against `currentState` (the current resolved state, with
 * the events themselves as values). Returns `{ allowed: true }` when the event should be
 * delivered, or the rejection that makes it soft-failed.
 *
 * The event is judged with the entries its auth events selection names (server-server-api "Auth
 * events selection") taken from the current state, plus the room's create event; rejected
 * events in the state are ignored. Rule 3 (the event's own `auth_events` list) is not re-run.
 * `options.verifyThirdPartyInviteSignature` is passed to `checkAuth`.
 *
 * @throws TypeError when `currentState` is not a Map.
 */
export function checkSoftFail(
  event: DagEvent,
  currentState: StateMap<DagEvent>,
  rules: RoomVersionRules,
  options: Pick<CheckAuthOptions, 'verifyThirdPartyInviteSignature'> = {},
): AuthOutcome {
  if (!(currentState instanceof Map)) {
    throw new TypeError('checkSoftFail: currentState must be a Map of StateKey → DagEvent');
  }
  const authState = new Map<StateKey, DagEvent>();
  const create = currentState.get(CREATE_KEY);
  if (create !== undefined && create.rejected !== true) authState.set(CREATE_KEY, create);
  for (const [type, stateKey] of authEventsSelection(event, rules)) {
    const key = stateKeyOf(type, stateKey);
    const current = currentState.get(key);
    if (current !== undefined && current.rejected !== true) authState.set(key, current);
  }
  const verify = options.verifyThirdPartyInviteSignature;
  return checkAuth(
    event,
    authState,
    rules,
    verify === undefined ? {} : { verifyThirdPartyInviteSignature: verify },
  );
}
