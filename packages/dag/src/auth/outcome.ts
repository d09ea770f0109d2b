/**
 * The verdict of the authorization rules: allowed, or rejected with a typed reason.
 *
 * A rejection is an expected outcome, not an error, so `checkAuth` returns it instead of
 * throwing. `reason` is stable and machine-readable; `detail` names the spec rule and values.
 */

/** Why the authorization rules rejected an event (one code per rule group of rooms/v10–v12.md). */
export type AuthRejection =
  // Rule 1: m.room.create
  | 'create-has-prev-events'
  | 'create-has-room-id'
  | 'create-room-id-domain-mismatch'
  | 'create-unknown-room-version'
  | 'create-missing-creator'
  | 'create-invalid-additional-creators'
  // v12 rule 2; the create event in the room state
  | 'missing-create-event'
  | 'room-id-not-create-event'
  | 'rejected-create-event'
  // Rules 2/3: the event's auth_events
  | 'duplicate-auth-events'
  | 'unexpected-auth-event'
  | 'missing-auth-event'
  | 'rejected-auth-event'
  | 'no-create-in-auth-events'
  | 'auth-event-room-mismatch'
  // m.federate
  | 'not-federated'
  // m.room.member
  | 'invalid-membership-event'
  | 'sender-not-target'
  | 'sender-banned'
  | 'target-banned'
  | 'join-rule-forbids-join'
  | 'restricted-join-unauthorised'
  | 'invalid-third-party-invite'
  | 'third-party-invite-not-found'
  | 'third-party-invite-sender-mismatch'
  | 'third-party-invite-bad-signature'
  | 'target-already-joined-or-banned'
  | 'leave-not-allowed'
  | 'join-rule-forbids-knock'
  | 'knock-not-allowed'
  | 'unknown-membership'
  // Membership of the sender, power, state keys
  | 'sender-not-joined'
  | 'insufficient-power'
  | 'state-key-impersonation'
  // m.room.power_levels
  | 'invalid-power-levels'
  | 'creator-in-power-levels'
  | 'power-levels-change-not-allowed';

/** Result of `checkAuth`. */
export type AuthOutcome =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: AuthRejection; readonly detail: string };

const ALLOWED: AuthOutcome = Object.freeze({ allowed: true });

/** The "allowed" verdict (one shared frozen object). */
export function allow(): AuthOutcome {
  return ALLOWED;
}

/** A rejection verdict. */
export function reject(reason: AuthRejection, detail: string): AuthOutcome {
  return { allowed: false, reason, detail };
}
