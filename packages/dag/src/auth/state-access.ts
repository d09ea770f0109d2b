/**
 * Reading the few state entries the authorization rules consult (rooms/v10.md "The types of
 * state events that affect authorisation"), with the spec's defaults for absent entries.
 */
import { type DagEvent, type StateMap, stateKeyOf } from '../event.ts';

/** The event types the authorization rules consult. */
export const CREATE = 'm.room.create';
/** @see CREATE */
export const MEMBER = 'm.room.member';
/** @see CREATE */
export const JOIN_RULES = 'm.room.join_rules';
/** @see CREATE */
export const POWER_LEVELS = 'm.room.power_levels';
/** @see CREATE */
export const THIRD_PARTY_INVITE = 'm.room.third_party_invite';

const CREATE_KEY = stateKeyOf(CREATE, '');
const JOIN_RULES_KEY = stateKeyOf(JOIN_RULES, '');
const POWER_LEVELS_KEY = stateKeyOf(POWER_LEVELS, '');

/** The `m.room.create` event of `state`, if any. */
export function createEventOf(state: StateMap<DagEvent>): DagEvent | undefined {
  return state.get(CREATE_KEY);
}

/** The `m.room.power_levels` event of `state`, if any. */
export function powerLevelsEventOf(state: StateMap<DagEvent>): DagEvent | undefined {
  return state.get(POWER_LEVELS_KEY);
}

/** The `m.room.member` event of `userId` in `state`, if any. */
export function memberEventOf(state: StateMap<DagEvent>, userId: string): DagEvent | undefined {
  return state.get(stateKeyOf(MEMBER, userId));
}

/**
 * The current membership of `userId`: the `membership` of their member event, or `undefined`
 * when they have none (which the rules treat like `leave`: neither joined, invited nor banned).
 */
export function membershipOf(state: StateMap<DagEvent>, userId: string): string | undefined {
  const membership = memberEventOf(state, userId)?.content['membership'];
  return typeof membership === 'string' ? membership : undefined;
}

/**
 * The room's join rule. Without an `m.room.join_rules` event the room behaves as `invite`
 * (the default every implementation applies: nobody may join uninvited).
 */
export function joinRuleOf(state: StateMap<DagEvent>): string {
  const rule = state.get(JOIN_RULES_KEY)?.content['join_rule'];
  return typeof rule === 'string' ? rule : 'invite';
}

/** True when `value` is a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
