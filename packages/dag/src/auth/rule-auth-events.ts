/**
 * The state-independent rules about the room and the cited auth events: v12 rule 2 (room ID
 * names an accepted create event) and rule 3 (v10/v11 rule 2) "Considering the event's
 * auth_events" (rooms/v10.md, v11.md, v12.md).
 */
import { type DagEvent, stateKeyOf } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { type AuthOutcome, allow, reject } from './outcome.ts';
import { authEventsSelection } from './selection.ts';
import { CREATE } from './state-access.ts';

/**
 * v12 rule 2: the event's `room_id` must be `!` + the ID (without `$`) of an accepted
 * `m.room.create` event, which is `create` here (the create event of the auth state).
 */
export function checkRoomIdIsCreateEvent(
  event: DagEvent,
  create: DagEvent | undefined,
): AuthOutcome {
  if (create === undefined) {
    return reject('missing-create-event', 'rule 2 (v12): no m.room.create event for the room');
  }
  const roomId = event.room_id;
  if (
    roomId === undefined ||
    !roomId.startsWith('!') ||
    `$${roomId.slice(1)}` !== create.event_id
  ) {
    return reject('room-id-not-create-event', 'rule 2 (v12): room_id is not the create event ID');
  }
  if (create.rejected === true) {
    return reject('rejected-create-event', 'rule 2 (v12): the create event was rejected');
  }
  return allow();
}

/**
 * Rule 3 (v10/v11: rule 2), checked against the events `event.auth_events` names, looked up with
 * `authEvent` (which returns `undefined` for an event it does not have).
 */
export function checkAuthEvents(
  event: DagEvent,
  authEvent: (eventId: string) => DagEvent | undefined,
  rules: RoomVersionRules,
): AuthOutcome {
  const allowed = new Set(authEventsSelection(event, rules).map(([t, k]) => stateKeyOf(t, k)));
  const seen = new Set<string>();
  let hasCreate = false;
  for (const id of event.auth_events) {
    const auth = authEvent(id);
    if (auth === undefined || auth.state_key === undefined) {
      return reject('missing-auth-event', `auth event ${id} is unknown or not a state event`);
    }
    const key = stateKeyOf(auth.type, auth.state_key);
    // 3.1 If there are duplicate entries for a given type and state_key pair, reject.
    if (seen.has(key)) {
      return reject('duplicate-auth-events', `rule 3.1: duplicate auth event for ${auth.type}`);
    }
    seen.add(key);
    // 3.2 Entries not specified by the auth events selection algorithm: reject.
    if (!allowed.has(key)) {
      return reject('unexpected-auth-event', `rule 3.2: ${auth.type} is not a selected auth event`);
    }
    // 3.3 Entries which were themselves rejected: reject.
    if (auth.rejected === true) {
      return reject('rejected-auth-event', `rule 3.3: auth event ${id} was rejected`);
    }
    // 3.5 (v10/v11 2.5) An auth event from another room: reject.
    if (auth.room_id !== event.room_id) {
      return reject('auth-event-room-mismatch', `rule 3.5: auth event ${id} is in another room`);
    }
    if (auth.type === CREATE) hasCreate = true;
  }
  // v10/v11 2.4 If there is no m.room.create event among the entries, reject.
  if (!rules.authorization.roomCreateEventIdAsRoomId && !hasCreate) {
    return reject('no-create-in-auth-events', 'rule 2.4: no m.room.create among auth_events');
  }
  return allow();
}
