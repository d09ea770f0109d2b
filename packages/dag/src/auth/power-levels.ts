/**
 * Power levels: the level of a user and the level an action requires (spec server-server-api
 * "Definitions"; m.room.power_levels schema; rooms/v12.md "room creators").
 *
 * Values are read defensively: room versions 10+ only ever accept integer power levels (rule
 * 10.1–10.3), so a non-integer value found in state can only come from a malformed event and
 * is treated as absent, falling back to the schema default.
 */
import type { DagEvent, StateMap } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { createEventOf, isJsonObject, powerLevelsEventOf } from './state-access.ts';

/** Level of a user with no `m.room.power_levels` event who is the v10/v11 creator. */
const CREATOR_DEFAULT_LEVEL = 100;

/** The levels named by `m.room.power_levels` with their schema defaults. */
export const LEVEL_DEFAULTS = Object.freeze({
  ban: 50,
  kick: 50,
  redact: 50,
  invite: 0,
  events_default: 0,
  state_default: 50,
  users_default: 0,
});

/** One of the top-level integer levels of `m.room.power_levels`. */
export type NamedLevel = keyof typeof LEVEL_DEFAULTS;

function integerOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : fallback;
}

/**
 * The room creators: in v10 `content.creator` of the create event, in v11 its `sender`, and in
 * v12 its `sender` plus `content.additional_creators` (rooms/v12.md).
 */
export function roomCreators(state: StateMap<DagEvent>, rules: RoomVersionRules): Set<string> {
  const create = createEventOf(state);
  const creators = new Set<string>();
  if (create === undefined) return creators;
  if (rules.authorization.useRoomCreateSender) {
    creators.add(create.sender);
  } else {
    const creator = create.content['creator'];
    if (typeof creator === 'string') creators.add(creator);
  }
  if (rules.authorization.additionalRoomCreators) {
    const additional = create.content['additional_creators'];
    if (Array.isArray(additional)) {
      for (const id of additional) if (typeof id === 'string') creators.add(id);
    }
  }
  return creators;
}

/** True when `userId` is a room creator (see {@link roomCreators}); allocation-free. */
export function isRoomCreator(
  userId: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): boolean {
  const create = createEventOf(state);
  if (create === undefined) return false;
  const primary = rules.authorization.useRoomCreateSender
    ? create.sender
    : create.content['creator'];
  if (primary === userId) return true;
  if (!rules.authorization.additionalRoomCreators) return false;
  const additional = create.content['additional_creators'];
  return Array.isArray(additional) && additional.includes(userId);
}

/**
 * The power level of `userId` in `state`.
 *
 * v12 creators have `Infinity` (above every integer). Otherwise `users[userId]`, else
 * `users_default`, else 0; with no `m.room.power_levels` event the creator has 100 (v10/v11)
 * and everyone else 0.
 */
export function powerLevelOf(
  userId: string,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): number {
  const pl = powerLevelsEventOf(state);
  const privileged = rules.authorization.explicitlyPrivilegeRoomCreators;
  if (privileged || pl === undefined) {
    const isCreator = isRoomCreator(userId, state, rules);
    if (isCreator) return privileged ? Number.POSITIVE_INFINITY : CREATOR_DEFAULT_LEVEL;
    if (pl === undefined) return 0;
  }
  const content = pl?.content ?? {};
  const users = content['users'];
  const usersDefault = integerOr(content['users_default'], LEVEL_DEFAULTS.users_default);
  if (isJsonObject(users) && Object.hasOwn(users, userId)) {
    return integerOr(users[userId], usersDefault);
  }
  return usersDefault;
}

/** The power level of `event.sender` in `state` (used by reverse topological power ordering). */
export function senderPowerLevel(
  event: DagEvent,
  state: StateMap<DagEvent>,
  rules: RoomVersionRules,
): number {
  return powerLevelOf(event.sender, state, rules);
}

/** The invite, kick, ban, redact or default level in `state`, with the schema default. */
export function namedLevel(state: StateMap<DagEvent>, name: NamedLevel): number {
  return integerOr(powerLevelsEventOf(state)?.content[name], LEVEL_DEFAULTS[name]);
}

/**
 * The *required power level* for sending an event of `type` (server-server-api "Definitions"):
 * `events[type]`, else `state_default` for state events or `events_default` otherwise.
 */
export function requiredPowerLevel(
  type: string,
  isState: boolean,
  state: StateMap<DagEvent>,
): number {
  const content = powerLevelsEventOf(state)?.content;
  const events = content?.['events'];
  if (isJsonObject(events) && Object.hasOwn(events, type)) {
    const level = events[type];
    if (typeof level === 'number' && Number.isSafeInteger(level)) return level;
  }
  return isState ? namedLevel(state, 'state_default') : namedLevel(state, 'events_default');
}
