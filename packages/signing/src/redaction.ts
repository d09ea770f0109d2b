/**
 * The redaction algorithm, with each room version's rules as data.
 *
 * Spec: client-server API "Redactions", defined per room version:
 * - v10: rooms/fragments/v9-redactions.md (https://spec.matrix.org/v1.19/rooms/v10/#redactions)
 * - v11: rooms/fragments/v11-redactions.md (https://spec.matrix.org/v1.19/rooms/v11/#redactions)
 * - v12: unchanged from v11 (https://spec.matrix.org/v1.19/rooms/v12/#redactions)
 *
 * A rules object lists what survives; {@link redactEvent} is one generic walk over it, so a new
 * room version is a new frozen object, not a new branch.
 */
import { SigningError } from './errors.ts';
import { checkJsonObject, isJsonObject, type JsonObject, own } from './json-object.ts';

/** Keep every key of `content` (v11+ `m.room.create`). */
export const KEEP_ALL_CONTENT = 'all';

/** What the redaction algorithm keeps, for one room version. */
export interface RedactionRules {
  /** The room version these rules belong to. */
  readonly roomVersion: string;
  /** Top-level keys that survive redaction; every other key is removed. */
  readonly topLevelKeys: readonly string[];
  /** Per event type, the `content` keys that survive (all others are removed). */
  readonly contentKeys: {
    readonly [eventType: string]: readonly string[] | typeof KEEP_ALL_CONTENT;
  };
  /**
   * Per event type, `content` keys that survive with only some of their own keys: for v11+
   * `m.room.member`, `third_party_invite` keeps only `signed`.
   */
  readonly nestedContentKeys: {
    readonly [eventType: string]: { readonly [contentKey: string]: readonly string[] };
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Rules for room version 10 (the v9 redaction fragment). */
export const REDACTION_V10: RedactionRules = deepFreeze({
  roomVersion: '10',
  topLevelKeys: [
    'event_id',
    'type',
    'room_id',
    'sender',
    'state_key',
    'content',
    'hashes',
    'signatures',
    'depth',
    'prev_events',
    'prev_state',
    'auth_events',
    'origin',
    'origin_server_ts',
    'membership',
  ],
  contentKeys: {
    'm.room.member': ['membership', 'join_authorised_via_users_server'],
    'm.room.create': ['creator'],
    'm.room.join_rules': ['join_rule', 'allow'],
    'm.room.power_levels': [
      'ban',
      'events',
      'events_default',
      'kick',
      'redact',
      'state_default',
      'users',
      'users_default',
    ],
    'm.room.history_visibility': ['history_visibility'],
  },
  nestedContentKeys: {},
});

/**
 * The v11 changes to v10, named as rooms/v11.md "Redactions" lists them (MSC2176, MSC3821,
 * MSC3989): kept below as data so each change reads on its own.
 */
const V11_CHANGES = {
  /** "The top-level origin, membership, and prev_state properties are no longer protected." */
  unprotectedTopLevelKeys: ['origin', 'membership', 'prev_state'],
  /** "The m.room.create event now keeps the entire content property." */
  createKeepsAllContent: KEEP_ALL_CONTENT,
  /** "The m.room.redaction event keeps the redacts property under content." */
  redactionKeeps: ['redacts'],
  /** "The m.room.power_levels event keeps the invite property under content." */
  powerLevelsAlsoKeep: ['invite'],
  /** "The third_party_invite key of m.room.member events … will only contain the signed key." */
  memberThirdPartyInviteKeeps: ['signed'],
} as const;

/** Rules for room version 11: v10 plus {@link V11_CHANGES}. */
export const REDACTION_V11: RedactionRules = deepFreeze({
  roomVersion: '11',
  topLevelKeys: REDACTION_V10.topLevelKeys.filter(
    (key) => !(V11_CHANGES.unprotectedTopLevelKeys as readonly string[]).includes(key),
  ),
  contentKeys: {
    ...REDACTION_V10.contentKeys,
    'm.room.create': V11_CHANGES.createKeepsAllContent,
    'm.room.redaction': V11_CHANGES.redactionKeeps,
    'm.room.power_levels': [
      ...(REDACTION_V10.contentKeys['m.room.power_levels'] as readonly string[]),
      ...V11_CHANGES.powerLevelsAlsoKeep,
    ],
  },
  nestedContentKeys: {
    ...REDACTION_V10.nestedContentKeys,
    'm.room.member': { third_party_invite: V11_CHANGES.memberThirdPartyInviteKeeps },
  },
});

/** Rules for room version 12: unchanged from v11 (rooms/v12.md includes v11-redactions). */
export const REDACTION_V12: RedactionRules = deepFreeze({ ...REDACTION_V11, roomVersion: '12' });

const RULES_BY_VERSION: { readonly [version: string]: RedactionRules } = Object.freeze({
  '10': REDACTION_V10,
  '11': REDACTION_V11,
  '12': REDACTION_V12,
});

/**
 * The rules for `roomVersion` (a version string, or a rules object used as is); throws
 * `SigningError('unsupported-room-version')` for a version this package has no rules for.
 */
export function redactionRulesFor(roomVersion: string | RedactionRules): RedactionRules {
  if (typeof roomVersion === 'object' && roomVersion !== null) return roomVersion;
  if (typeof roomVersion !== 'string') {
    throw new TypeError('roomVersion must be a room version string or a RedactionRules object');
  }
  const rules = Object.hasOwn(RULES_BY_VERSION, roomVersion)
    ? RULES_BY_VERSION[roomVersion]
    : undefined;
  if (rules === undefined) {
    throw new SigningError(
      'unsupported-room-version',
      `no redaction rules for room version ${JSON.stringify(roomVersion)} (supported: 10, 11, 12)`,
    );
  }
  return rules;
}

function pick(object: JsonObject, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (Object.hasOwn(object, key)) out[key] = object[key];
  }
  return out;
}

/** The kept part of `content` for an event of `type` (unknown or non-string types keep nothing). */
export function redactContent(
  type: unknown,
  content: JsonObject,
  rules: RedactionRules,
): Record<string, unknown> {
  if (typeof type !== 'string') return {};
  const kept = Object.hasOwn(rules.contentKeys, type) ? rules.contentKeys[type] : undefined;
  const out =
    kept === KEEP_ALL_CONTENT ? { ...content } : kept === undefined ? {} : pick(content, kept);
  const nested = Object.hasOwn(rules.nestedContentKeys, type)
    ? rules.nestedContentKeys[type]
    : undefined;
  if (nested !== undefined) {
    for (const contentKey of Object.keys(nested)) {
      const inner = own(content, contentKey);
      // As Synapse does (synapse/events/utils.py prune_event_dict), a nested object is kept even
      // when none of its allowed keys is present, as `{}`; a non-object value is dropped.
      if (isJsonObject(inner)) out[contentKey] = pick(inner, nested[contentKey] ?? []);
    }
  }
  return out;
}

/**
 * Redacts an event by the rules of `roomVersion` ('10', '11', '12', or a {@link RedactionRules}
 * object): removes every top-level key not in the rules' list (so `unsigned` always goes) and
 * every `content` key not kept for the event's `type`. Returns a new object; the input is never
 * modified. Throws `SigningError('bad-event')` when `content` is present but not an object.
 */
export function redactEvent(
  event: JsonObject,
  roomVersion: string | RedactionRules,
): Record<string, unknown> {
  checkJsonObject(event, 'event');
  const rules = redactionRulesFor(roomVersion);
  const out = pick(event, rules.topLevelKeys);
  if (Object.hasOwn(out, 'content')) {
    const content = out['content'];
    if (!isJsonObject(content)) {
      throw new SigningError('bad-event', 'event content must be an object', { path: '$.content' });
    }
    out['content'] = redactContent(own(event, 'type'), content, rules);
  }
  return out;
}
