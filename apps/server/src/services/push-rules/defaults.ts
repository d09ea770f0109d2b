/**
 * The spec's server-default push rules, in the spec's order per kind (client-server-api "Push
 * Notifications" > "Predefined Rules",
 * https://spec.matrix.org/v1.19/client-server-api/#predefined-rules). Rules that name the user
 * (`.m.rule.invite_for_me`, `.m.rule.is_user_mention`) are filled in per user. `.m.rule.master` is
 * listed separately: it outranks even user-defined rules. There are no default content rules:
 * "Changed in v1.17: the legacy default push rules that looked for mentions in the `body` of the
 * event were removed" (`.m.rule.contains_display_name`, `.m.rule.roomnotif`,
 * `.m.rule.contains_user_name`; MSC4210). The `contains_display_name` condition itself remains
 * (deprecated) for user-defined rules.
 */

/** A push rule as the push rules API returns it. */
export interface PushRule {
  readonly rule_id: string;
  readonly default: boolean;
  readonly enabled: boolean;
  readonly actions: readonly unknown[];
  readonly conditions?: readonly Record<string, unknown>[];
  readonly pattern?: string;
}

/** The rule kinds, in the order they are evaluated. */
export const PUSH_RULE_KINDS = ['override', 'content', 'room', 'sender', 'underride'] as const;
export type PushRuleKind = (typeof PUSH_RULE_KINDS)[number];

const SOUND_DEFAULT = { set_tweak: 'sound', value: 'default' } as const;
const HIGHLIGHT = { set_tweak: 'highlight' } as const;

const rule = (
  rule_id: string,
  conditions: Record<string, unknown>[],
  actions: unknown[],
): PushRule => ({ rule_id, default: true, enabled: true, conditions, actions });

const match = (key: string, pattern: string) => ({ kind: 'event_match', key, pattern });

/** `.m.rule.master`: "By default this rule is disabled." */
export const MASTER_RULE: PushRule = {
  rule_id: '.m.rule.master',
  default: true,
  enabled: false,
  conditions: [],
  actions: [],
};

// Rules that do not name the user are built once and shared, read-only, by every user's ruleset:
// built per user they were ≈ 4.7 KiB of heap each (4.7 MiB at the memory bench's 1,000 users).
const SUPPRESS_NOTICES = rule(
  '.m.rule.suppress_notices',
  [match('content.msgtype', 'm.notice')],
  [],
);
const MEMBER_EVENT = rule('.m.rule.member_event', [match('type', 'm.room.member')], []);
/** The override rules after `.m.rule.is_user_mention`, in the spec's order. */
const OVERRIDE_TAIL: readonly PushRule[] = [
  rule(
    '.m.rule.is_room_mention',
    [
      { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
      { kind: 'sender_notification_permission', key: 'room' },
    ],
    ['notify', HIGHLIGHT],
  ),
  rule(
    '.m.rule.tombstone',
    [match('type', 'm.room.tombstone'), match('state_key', '')],
    ['notify', HIGHLIGHT],
  ),
  rule('.m.rule.reaction', [match('type', 'm.reaction')], []),
  rule('.m.rule.room.server_acl', [match('type', 'm.room.server_acl'), match('state_key', '')], []),
  rule(
    '.m.rule.suppress_edits',
    [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
    [],
  ),
];
const UNDERRIDE: readonly PushRule[] = [
  rule(
    '.m.rule.call',
    [match('type', 'm.call.invite')],
    ['notify', { set_tweak: 'sound', value: 'ring' }],
  ),
  rule(
    '.m.rule.encrypted_room_one_to_one',
    [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.encrypted')],
    ['notify', SOUND_DEFAULT],
  ),
  rule(
    '.m.rule.room_one_to_one',
    [{ kind: 'room_member_count', is: '2' }, match('type', 'm.room.message')],
    ['notify', SOUND_DEFAULT],
  ),
  rule('.m.rule.message', [match('type', 'm.room.message')], ['notify']),
  rule('.m.rule.encrypted', [match('type', 'm.room.encrypted')], ['notify']),
];

/** The server-default rules of `userId` by kind (`.m.rule.master` excluded). */
export function defaultPushRules(userId: string): Record<PushRuleKind, PushRule[]> {
  return {
    override: [
      SUPPRESS_NOTICES,
      rule(
        '.m.rule.invite_for_me',
        [
          match('type', 'm.room.member'),
          match('content.membership', 'invite'),
          match('state_key', userId),
        ],
        ['notify', SOUND_DEFAULT],
      ),
      MEMBER_EVENT,
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        ['notify', SOUND_DEFAULT, HIGHLIGHT],
      ),
      ...OVERRIDE_TAIL,
    ],
    content: [],
    room: [],
    sender: [],
    underride: [...UNDERRIDE],
  };
}
