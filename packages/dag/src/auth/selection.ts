/**
 * Auth events selection (spec server-server-api "Auth events selection"): which state entries
 * an event must cite in `auth_events`.
 */
import type { DagEvent } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import {
  CREATE,
  isJsonObject,
  JOIN_RULES,
  MEMBER,
  POWER_LEVELS,
  THIRD_PARTY_INVITE,
} from './state-access.ts';

/**
 * The `[type, state_key]` pairs `event` should cite in `auth_events` (each only "if any" in the
 * current state), without duplicates.
 *
 * The create event cites nothing. Up to v11 every other event cites the create event; from v12
 * (`roomCreateEventIdAsRoomId`) the create event is implied by the room ID and must not be cited.
 */
export function authEventsSelection(
  event: Pick<DagEvent, 'type' | 'sender' | 'state_key' | 'content'>,
  rules: RoomVersionRules,
): Array<[type: string, stateKey: string]> {
  if (event.type === CREATE) return [];
  const selected: Array<[string, string]> = [];
  const add = (type: string, stateKey: string): void => {
    if (!selected.some(([t, k]) => t === type && k === stateKey)) selected.push([type, stateKey]);
  };
  if (!rules.authorization.roomCreateEventIdAsRoomId) add(CREATE, '');
  add(POWER_LEVELS, '');
  add(MEMBER, event.sender);
  if (event.type === MEMBER && typeof event.state_key === 'string') {
    add(MEMBER, event.state_key);
    const membership = event.content['membership'];
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      add(JOIN_RULES, '');
    }
    const invite = event.content['third_party_invite'];
    if (membership === 'invite' && isJsonObject(invite)) {
      const signed = invite['signed'];
      const token = isJsonObject(signed) ? signed['token'] : undefined;
      if (typeof token === 'string') add(THIRD_PARTY_INVITE, token);
    }
    const via = event.content['join_authorised_via_users_server'];
    if (
      membership === 'join' &&
      typeof via === 'string' &&
      rules.authorization.restrictedJoinRule
    ) {
      add(MEMBER, via);
    }
  }
  return selected;
}
