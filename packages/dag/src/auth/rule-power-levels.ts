/**
 * Rule 10 (v10/v11: rule 9) of the authorization rules: `m.room.power_levels` (rooms/v10.md,
 * v11.md, v12.md).
 */
import type { DagEvent, StateMap } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { type AuthOutcome, allow, reject } from './outcome.ts';
import { powerLevelOf, roomCreators } from './power-levels.ts';
import { isJsonObject, powerLevelsEventOf } from './state-access.ts';
import { isValidUserId } from './user-id.ts';

const NAMED_LEVELS = [
  'users_default',
  'events_default',
  'state_default',
  'ban',
  'redact',
  'kick',
  'invite',
] as const;

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

function isIntegerMap(value: unknown): value is Readonly<Record<string, number>> {
  return isJsonObject(value) && Object.values(value).every(isInteger);
}

/** Rule 10: an `m.room.power_levels` event. */
export function checkPowerLevels(
  event: DagEvent,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): AuthOutcome {
  const content = event.content;
  // 10.1 Named levels present and not an integer: reject. (Room versions before 10 accepted
  // strings; `integerPowerLevels` is set in every supported version.)
  if (rules.authorization.integerPowerLevels) {
    for (const name of NAMED_LEVELS) {
      if (content[name] !== undefined && !isInteger(content[name])) {
        return reject('invalid-power-levels', `rule 10.1: ${name} is not an integer`);
      }
    }
    // 10.2 events or notifications present and not an object of integers: reject.
    for (const name of ['events', 'notifications'] as const) {
      if (content[name] !== undefined && !isIntegerMap(content[name])) {
        return reject('invalid-power-levels', `rule 10.2: ${name} is not an object of integers`);
      }
    }
  }
  // 10.3 users not an object with valid user ID keys and integer values: reject.
  const users = content['users'];
  if (users !== undefined) {
    if (!isIntegerMap(users) || !Object.keys(users).every((id) => isValidUserId(id))) {
      return reject('invalid-power-levels', 'rule 10.3: users is not a map of user ID → integer');
    }
    // v12 10.4 users contains a room creator: reject.
    if (rules.authorization.explicitlyPrivilegeRoomCreators) {
      for (const creator of roomCreators(state, rules)) {
        if (Object.hasOwn(users, creator)) {
          return reject('creator-in-power-levels', 'rule 10.4 (v12): users lists a room creator');
        }
      }
    }
  }
  // 10.5 If there is no previous m.room.power_levels event in the room, allow.
  const previous = powerLevelsEventOf(state);
  if (previous === undefined) return allow();
  const senderLevel = powerLevelOf(event.sender, state, rules);
  const old = previous.content;
  // 10.6 For each named level added, changed or removed: the current value and the new value
  // must not be higher than the sender's current power level.
  for (const name of NAMED_LEVELS) {
    const denied = changeDenied(old[name], content[name], senderLevel, false);
    if (denied) return reject('power-levels-change-not-allowed', `rule 10.6: ${name} ${denied}`);
  }
  // 10.7/10.8 For each entry changed in, removed from or added to events (and notifications,
  // when `limitNotificationsPowerLevels`): neither value may exceed the sender's level.
  const maps = rules.authorization.limitNotificationsPowerLevels
    ? (['events', 'notifications'] as const)
    : (['events'] as const);
  for (const name of maps) {
    const denied = mapChangeDenied(old[name], content[name], senderLevel, undefined);
    if (denied) return reject('power-levels-change-not-allowed', `rule 10.7/8: ${name} ${denied}`);
  }
  // 10.9 For each entry changed in or removed from users, other than the sender's own: the
  // current value must be below the sender's level. 10.10 Each entry added or changed: the new
  // value must not exceed the sender's level.
  const denied = mapChangeDenied(old['users'], users, senderLevel, event.sender);
  if (denied) return reject('power-levels-change-not-allowed', `rule 10.9/10: users ${denied}`);
  // 10.11 Otherwise, allow.
  return allow();
}

/**
 * Why changing one level from `before` to `after` is denied to a sender at `senderLevel`, or
 * `undefined` when it is allowed (or unchanged). Non-integer old values cannot exist in v10+
 * state and are ignored. `strictOld`: the current value must be strictly below the sender's
 * level (rule 10.9) rather than at most equal to it.
 */
function changeDenied(
  before: unknown,
  after: unknown,
  senderLevel: number,
  strictOld: boolean,
): string | undefined {
  if (before === after) return undefined;
  if (isInteger(before) && (strictOld ? before >= senderLevel : before > senderLevel)) {
    return `current value ${before} is above the sender's level`;
  }
  if (isInteger(after) && after > senderLevel) {
    return `new value ${after} is above the sender's level`;
  }
  return undefined;
}

/**
 * Rules 10.7–10.10 for one map property: each key whose value differs is checked with
 * {@link changeDenied}; for `users` (`ownId` set) the old value must be strictly below the
 * sender's level and the sender's own entry is exempt from that part (rule 10.9).
 */
function mapChangeDenied(
  before: unknown,
  after: unknown,
  senderLevel: number,
  ownId: string | undefined,
): string | undefined {
  const oldMap = isJsonObject(before) ? before : {};
  const newMap = isJsonObject(after) ? after : {};
  const keys = new Set([...Object.keys(oldMap), ...Object.keys(newMap)]);
  for (const key of keys) {
    const oldValue = oldMap[key];
    const newValue = newMap[key];
    if (oldValue === newValue) continue;
    const isUsers = ownId !== undefined;
    const oldChecked = isUsers && key === ownId ? undefined : oldValue;
    const denied = changeDenied(oldChecked, newValue, senderLevel, isUsers);
    if (denied) return `${JSON.stringify(key)}: ${denied}`;
  }
  return undefined;
}
