/**
 * The authorization rules of room versions 10, 11 and 12 (spec content/rooms/v10.md,
 * v11.md, v12.md "Authorisation rules"), as one entry point that runs the rules in the spec's
 * order. Rule numbers below are v12's; v10/v11 number the same rules one lower after rule 1
 * (they have no rule 2).
 */
import { type DagEvent, type StateMap, stateKeyOf } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { type AuthOutcome, allow, reject } from './outcome.ts';
import { namedLevel, powerLevelOf, requiredPowerLevel } from './power-levels.ts';
import { checkAuthEvents, checkRoomIdIsCreateEvent } from './rule-auth-events.ts';
import { checkCreate } from './rule-create.ts';
import { checkMember } from './rule-member.ts';
import { checkPowerLevels } from './rule-power-levels.ts';
import {
  CREATE,
  createEventOf,
  MEMBER,
  membershipOf,
  POWER_LEVELS,
  THIRD_PARTY_INVITE,
} from './state-access.ts';
import { serverNameOf } from './user-id.ts';

/** Optional inputs of {@link checkAuth}. */
export interface CheckAuthOptions {
  /**
   * Looks up the events `event.auth_events` names. When given, rule 3 (the auth events
   * themselves: no duplicates, only selected types, none rejected, same room) is checked, as on
   * receipt of a PDU (server-server-api "Checks performed on receipt of a PDU", step 4). When
   * absent, rule 3 is skipped: state resolution's iterative auth checks and soft-fail checks
   * re-run only the state-dependent rules. In v12 it also supplies the create event the room ID
   * names when `authState` lacks it (v12 events never cite it in `auth_events`).
   */
  readonly authEvent?: (eventId: string) => DagEvent | undefined;
  /**
   * Replaces rule 5.4.1.7's check: does any signature in a third-party invite's `signed` object
   * match one of `publicKeys` (the `m.room.third_party_invite` event's keys, base64)? The
   * default verifies the Ed25519 signatures with `@weft/signing`.
   */
  readonly verifyThirdPartyInviteSignature?: (
    signed: Readonly<Record<string, unknown>>,
    publicKeys: readonly string[],
  ) => boolean;
}

/**
 * Runs the authorization rules of `rules` for `event` against `authState`: the state the event is
 * checked against (its auth events, the state before it, or the current state).
 *
 * Returns `{ allowed: true }` or `{ allowed: false, reason, detail }`; never throws for any
 * event shape that passed the PDU format checks.
 */
export function checkAuth(
  event: DagEvent,
  authState: StateMap<DagEvent>,
  rules: RoomVersionRules,
  options: CheckAuthOptions = {},
): AuthOutcome {
  if (typeof event !== 'object' || event === null || !Array.isArray(event.prev_events)) {
    throw new TypeError('checkAuth: event must be a DagEvent');
  }
  if (typeof authState?.get !== 'function') {
    throw new TypeError('checkAuth: authState must be a Map of state key to DagEvent');
  }
  if (typeof rules?.authorization !== 'object') {
    throw new TypeError('checkAuth: rules must be a RoomVersionRules object');
  }
  // Rule 1: m.room.create.
  if (event.type === CREATE) return checkCreate(event, rules);

  let state = authState;
  let create = createEventOf(state);
  if (rules.authorization.roomCreateEventIdAsRoomId) {
    // v12 events never cite the create event: when the auth state lacks it, take the one the
    // room ID names from the caller's auth event lookup.
    if (create === undefined && options.authEvent !== undefined && event.room_id?.startsWith('!')) {
      create = options.authEvent(`$${event.room_id.slice(1)}`);
      if (create?.type === CREATE && create.state_key === '') {
        state = new Map(authState).set(stateKeyOf(CREATE, ''), create);
      } else {
        create = undefined;
      }
    }
    // Rule 2 (v12): the room ID names an accepted create event.
    const outcome = checkRoomIdIsCreateEvent(event, create);
    if (!outcome.allowed) return outcome;
  }
  // Rule 3: the auth events themselves (only when the caller can look them up).
  if (options.authEvent !== undefined) {
    const outcome = checkAuthEvents(event, options.authEvent, rules);
    if (!outcome.allowed) return outcome;
  }
  // Every further rule needs the create event; without it the room cannot be authorised
  // (v10/v11 rule 2.4 demands it among auth events, v12 rule 2 implies it from the room ID).
  if (create === undefined) {
    return reject('missing-create-event', 'no m.room.create event in the auth state');
  }
  // Rule 4: m.federate false restricts the room to the create event sender's server.
  if (
    create.content['m.federate'] === false &&
    serverNameOf(event.sender) !== serverNameOf(create.sender)
  ) {
    return reject('not-federated', 'rule 4: m.federate is false and sender is on another server');
  }
  // Rule 5: m.room.member.
  if (event.type === MEMBER) return checkMember(event, state, rules, options);

  // Rule 6: If the sender's current membership state is not join, reject.
  if (membershipOf(state, event.sender) !== 'join') {
    return reject('sender-not-joined', 'rule 6: sender is not joined');
  }
  const senderLevel = powerLevelOf(event.sender, state, rules);
  // Rule 7: m.room.third_party_invite: allow iff sender's level >= the invite level.
  if (event.type === THIRD_PARTY_INVITE) {
    return senderLevel >= namedLevel(state, 'invite')
      ? allow()
      : reject('insufficient-power', 'rule 7: sender is below the invite level');
  }
  // Rule 8: If the event type's required power level is greater than the sender's, reject.
  const isState = event.state_key !== undefined;
  const required = requiredPowerLevel(event.type, isState, state);
  if (required > senderLevel) {
    return reject(
      'insufficient-power',
      `rule 8: ${event.type} requires ${required}, sender has ${senderLevel}`,
    );
  }
  // Rule 9: A state_key starting with @ must be the sender.
  if (event.state_key?.startsWith('@') && event.state_key !== event.sender) {
    return reject('state-key-impersonation', 'rule 9: state_key names another user');
  }
  // Rule 10: m.room.power_levels.
  if (event.type === POWER_LEVELS) return checkPowerLevels(event, state, rules);
  // Rule 11: Otherwise, allow.
  return allow();
}
