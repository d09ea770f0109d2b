/**
 * Rule 5 (v10/v11: rule 4) of the authorization rules: `m.room.member` (rooms/v10.md, v11.md,
 * v12.md). One function per membership value, each headed by the sub-rules it implements.
 */
import { type DagEvent, type StateMap, stateKeyOf } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import type { CheckAuthOptions } from './check-auth.ts';
import { type AuthOutcome, allow, reject } from './outcome.ts';
import { namedLevel, powerLevelOf } from './power-levels.ts';
import {
  createEventOf,
  isJsonObject,
  joinRuleOf,
  membershipOf,
  THIRD_PARTY_INVITE,
} from './state-access.ts';
import { verifyThirdPartyInviteSigned } from './third-party-signature.ts';

/** Rule 5: an `m.room.member` event. */
export function checkMember(
  event: DagEvent,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
  options: CheckAuthOptions,
): AuthOutcome {
  // 5.1 If there is no state_key property, or no membership property in content, reject.
  const target = event.state_key;
  const membership = event.content['membership'];
  if (target === undefined || typeof membership !== 'string') {
    return reject('invalid-membership-event', 'rule 5.1: no state_key or no content.membership');
  }
  // 5.2 (join_authorised_via_users_server signed by that user's server) is a signature check:
  // the caller verifies signatures on receipt (server-server-api "Validating hashes and
  // signatures on received events" requires that server's signature), so it is not repeated here.
  switch (membership) {
    case 'join':
      return checkJoin(event, target, state, rules);
    case 'invite':
      return checkInvite(event, target, state, rules, options);
    case 'leave':
      return checkLeave(event, target, state, rules);
    case 'ban':
      return checkBan(event, target, state, rules);
    case 'knock':
      if (rules.authorization.knocking) return checkKnock(event, target, state);
      break;
  }
  // 5.8 Otherwise, the membership is unknown. Reject.
  return reject('unknown-membership', `rule 5.8: unknown membership ${JSON.stringify(membership)}`);
}

/** Rule 5.3: `membership` is `join`. */
function checkJoin(
  event: DagEvent,
  target: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): AuthOutcome {
  // 5.3.1 If the only previous event is an m.room.create and the state_key is the creator
  // (v10: content.creator; v11+: the create event's sender), allow.
  const create = createEventOf(state);
  if (
    create !== undefined &&
    event.prev_events.length === 1 &&
    event.prev_events[0] === create.event_id
  ) {
    const creator = rules.authorization.useRoomCreateSender
      ? create.sender
      : create.content['creator'];
    if (target === creator) return allow();
  }
  // 5.3.2 If the sender does not match state_key, reject.
  if (event.sender !== target) {
    return reject('sender-not-target', 'rule 5.3.2: join sender does not match state_key');
  }
  // 5.3.3 If the sender is banned, reject.
  const current = membershipOf(state, target);
  if (current === 'ban') return reject('sender-banned', 'rule 5.3.3: sender is banned');
  const joinRule = joinRuleOf(state);
  const auth = rules.authorization;
  // 5.3.4 If the join_rule is invite or knock, allow if membership state is invite or join.
  if (joinRule === 'invite' || (auth.knocking && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return allow();
    return reject('join-rule-forbids-join', `rule 5.3.4: join_rule ${joinRule} needs an invite`);
  }
  // 5.3.5 If the join_rule is restricted or knock_restricted:
  if (
    (auth.restrictedJoinRule && joinRule === 'restricted') ||
    (auth.knockRestrictedJoinRule && joinRule === 'knock_restricted')
  ) {
    // 5.3.5.1 If membership state is join or invite, allow.
    if (current === 'invite' || current === 'join') return allow();
    // 5.3.5.2 If join_authorised_via_users_server is not a user with sufficient permission to
    // invite other users or is not a joined member of the room, reject.
    const via = event.content['join_authorised_via_users_server'];
    if (
      typeof via !== 'string' ||
      membershipOf(state, via) !== 'join' ||
      powerLevelOf(via, state, rules) < namedLevel(state, 'invite')
    ) {
      return reject(
        'restricted-join-unauthorised',
        'rule 5.3.5.2: join_authorised_via_users_server is not a joined user able to invite',
      );
    }
    // 5.3.5.3 Otherwise, allow.
    return allow();
  }
  // 5.3.6 If the join_rule is public, allow.
  if (joinRule === 'public') return allow();
  // 5.3.7 Otherwise, reject.
  return reject('join-rule-forbids-join', `rule 5.3.7: join_rule ${joinRule} forbids joining`);
}

/** Rule 5.4: `membership` is `invite`. */
function checkInvite(
  event: DagEvent,
  target: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
  options: CheckAuthOptions,
): AuthOutcome {
  const targetMembership = membershipOf(state, target);
  // 5.4.1 If content has a third_party_invite property:
  if (event.content['third_party_invite'] !== undefined) {
    return checkThirdPartyInvite(event, target, targetMembership, state, options);
  }
  // 5.4.2 If the sender's current membership state is not join, reject.
  if (membershipOf(state, event.sender) !== 'join') {
    return reject('sender-not-joined', 'rule 5.4.2: inviter is not joined');
  }
  // 5.4.3 If target user's current membership state is join or ban, reject.
  if (targetMembership === 'join' || targetMembership === 'ban') {
    return reject('target-already-joined-or-banned', `rule 5.4.3: target is ${targetMembership}`);
  }
  // 5.4.4 If the sender's power level is greater than or equal to the invite level, allow.
  if (powerLevelOf(event.sender, state, rules) >= namedLevel(state, 'invite')) return allow();
  // 5.4.5 Otherwise, reject.
  return reject('insufficient-power', 'rule 5.4.5: sender is below the invite level');
}

/** Rule 5.4.1: an invite carrying `third_party_invite`. */
function checkThirdPartyInvite(
  event: DagEvent,
  target: string,
  targetMembership: string | undefined,
  state: StateMap<DagEvent>,
  options: CheckAuthOptions,
): AuthOutcome {
  // 5.4.1.1 If target user is banned, reject.
  if (targetMembership === 'ban') return reject('target-banned', 'rule 5.4.1.1: target is banned');
  // 5.4.1.2 If content.third_party_invite does not have a signed property, reject.
  const invite = event.content['third_party_invite'];
  const signed = isJsonObject(invite) ? invite['signed'] : undefined;
  if (!isJsonObject(signed)) {
    return reject('invalid-third-party-invite', 'rule 5.4.1.2: third_party_invite has no signed');
  }
  // 5.4.1.3 If signed does not have mxid and token properties, reject.
  const mxid = signed['mxid'];
  const token = signed['token'];
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    return reject('invalid-third-party-invite', 'rule 5.4.1.3: signed lacks mxid or token');
  }
  // 5.4.1.4 If mxid does not match state_key, reject.
  if (mxid !== target) {
    return reject('invalid-third-party-invite', 'rule 5.4.1.4: signed.mxid is not the state_key');
  }
  // 5.4.1.5 If there is no m.room.third_party_invite event in the current room state with
  // state_key matching token, reject.
  const thirdPartyInvite = state.get(stateKeyOf(THIRD_PARTY_INVITE, token));
  if (thirdPartyInvite === undefined) {
    return reject('third-party-invite-not-found', 'rule 5.4.1.5: no m.room.third_party_invite');
  }
  // 5.4.1.6 If sender does not match sender of the m.room.third_party_invite, reject.
  if (thirdPartyInvite.sender !== event.sender) {
    return reject('third-party-invite-sender-mismatch', 'rule 5.4.1.6: sender differs');
  }
  // 5.4.1.7 If any signature in signed matches any public key in the m.room.third_party_invite
  // event (content.public_key and content.public_keys[].public_key), allow. 5.4.1.8 Otherwise,
  // reject.
  const keys = thirdPartyInvitePublicKeys(thirdPartyInvite);
  const verify = options.verifyThirdPartyInviteSignature ?? verifyThirdPartyInviteSigned;
  if (verify(signed, keys)) return allow();
  return reject('third-party-invite-bad-signature', 'rule 5.4.1.8: no signature matches a key');
}

/** The public keys of an `m.room.third_party_invite` event (`public_key`, `public_keys`). */
function thirdPartyInvitePublicKeys(invite: DagEvent): string[] {
  const keys: string[] = [];
  const single = invite.content['public_key'];
  if (typeof single === 'string') keys.push(single);
  const list = invite.content['public_keys'];
  if (Array.isArray(list)) {
    for (const entry of list) {
      const key = isJsonObject(entry) ? entry['public_key'] : undefined;
      if (typeof key === 'string') keys.push(key);
    }
  }
  return keys;
}

/** Rule 5.5: `membership` is `leave`. */
function checkLeave(
  event: DagEvent,
  target: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): AuthOutcome {
  const targetMembership = membershipOf(state, target);
  // 5.5.1 If the sender matches state_key, allow if and only if that user's current membership
  // state is invite, join, or knock.
  if (event.sender === target) {
    const ok =
      targetMembership === 'invite' ||
      targetMembership === 'join' ||
      (rules.authorization.knocking && targetMembership === 'knock');
    return ok
      ? allow()
      : reject('leave-not-allowed', `rule 5.5.1: cannot leave from ${targetMembership ?? 'none'}`);
  }
  // 5.5.2 If the sender's current membership state is not join, reject.
  if (membershipOf(state, event.sender) !== 'join') {
    return reject('sender-not-joined', 'rule 5.5.2: kicker is not joined');
  }
  const senderLevel = powerLevelOf(event.sender, state, rules);
  // 5.5.3 If the target is banned and the sender's power level is below the ban level, reject.
  if (targetMembership === 'ban' && senderLevel < namedLevel(state, 'ban')) {
    return reject('insufficient-power', 'rule 5.5.3: unbanning needs the ban level');
  }
  // 5.5.4 If the sender's power level >= the kick level, and the target user's power level is
  // less than the sender's power level, allow.
  if (
    senderLevel >= namedLevel(state, 'kick') &&
    powerLevelOf(target, state, rules) < senderLevel
  ) {
    return allow();
  }
  // 5.5.5 Otherwise, reject.
  return reject('insufficient-power', 'rule 5.5.5: below the kick level or the target level');
}

/** Rule 5.6: `membership` is `ban`. */
function checkBan(
  event: DagEvent,
  target: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): AuthOutcome {
  // 5.6.1 If the sender's current membership state is not join, reject.
  if (membershipOf(state, event.sender) !== 'join') {
    return reject('sender-not-joined', 'rule 5.6.1: banner is not joined');
  }
  // 5.6.2 If the sender's power level >= the ban level, and the target user's power level is
  // less than the sender's power level, allow. 5.6.3 Otherwise, reject.
  const senderLevel = powerLevelOf(event.sender, state, rules);
  if (senderLevel >= namedLevel(state, 'ban') && powerLevelOf(target, state, rules) < senderLevel) {
    return allow();
  }
  return reject('insufficient-power', 'rule 5.6.3: below the ban level or the target level');
}

/** Rule 5.7: `membership` is `knock`. */
function checkKnock(event: DagEvent, target: string, state: StateMap<DagEvent>): AuthOutcome {
  // 5.7.1 If the join_rule is anything other than knock or knock_restricted, reject.
  const joinRule = joinRuleOf(state);
  if (joinRule !== 'knock' && joinRule !== 'knock_restricted') {
    return reject('join-rule-forbids-knock', `rule 5.7.1: join_rule ${joinRule} forbids knocking`);
  }
  // 5.7.2 If sender does not match state_key, reject.
  if (event.sender !== target) {
    return reject('sender-not-target', 'rule 5.7.2: knock sender does not match state_key');
  }
  // 5.7.3 If the sender's current membership is not ban, invite, or join, allow.
  const current = membershipOf(state, target);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return allow();
  // 5.7.4 Otherwise, reject.
  return reject('knock-not-allowed', `rule 5.7.4: cannot knock while ${current}`);
}
