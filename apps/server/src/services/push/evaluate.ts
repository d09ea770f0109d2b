/**
 * Push rule evaluation (client-server-api "Push Rules", https://spec.matrix.org/v1.19/client-server-api/#push-rules):
 * the kinds are tried in order (override, content, room, sender, underride) and, within a kind,
 * rule by rule; the first enabled rule whose conditions all match decides the event's actions.
 * No match means no actions.
 */
import type { PushRule } from '../push-rules/defaults.ts';
import { PUSH_RULE_KINDS } from '../push-rules/defaults.ts';
import type { PushRuleset } from '../push-rules/service.ts';
import { type ConditionContext, conditionMatches, globMatches, valueAt } from './conditions.ts';

/**
 * The legacy body-matching mention rules. Spec v1.7 "User and room mentions" (MSC3952): when an
 * event carries `m.mentions`, clients say whom they mention, so these rules do not apply to it.
 */
const LEGACY_MENTION_RULES = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.contains_user_name',
  '.m.rule.roomnotif',
]);

/** What the rules decided for one user and one event. */
export interface PushDecision {
  readonly actions: readonly unknown[];
  /** The `notify` action is present. */
  readonly notify: boolean;
  /** A `highlight` tweak whose value is not `false` is present. */
  readonly highlight: boolean;
  /** The rule that matched, if any. */
  readonly ruleId: string | undefined;
}

const NOTHING: PushDecision = { actions: [], notify: false, highlight: false, ruleId: undefined };

async function ruleMatches(
  kind: (typeof PUSH_RULE_KINDS)[number],
  rule: PushRule,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
): Promise<boolean> {
  switch (kind) {
    case 'content': {
      // Content rules match their `pattern` against the body, word-bounded like event_match.
      const body = valueAt(event, 'content.body');
      return (
        typeof rule.pattern === 'string' &&
        typeof body === 'string' &&
        globMatches(rule.pattern, body, true)
      );
    }
    case 'room':
      return event['room_id'] === rule.rule_id;
    case 'sender':
      return event['sender'] === rule.rule_id;
    default:
      for (const condition of rule.conditions ?? []) {
        if (!(await conditionMatches(condition, event, context))) return false;
      }
      return true;
  }
}

/** Evaluates `ruleset` for `event` (a PDU or client event: type, content, sender, …). */
export async function evaluatePushRules(
  ruleset: PushRuleset,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
): Promise<PushDecision> {
  const content = event['content'];
  const hasMentions =
    typeof content === 'object' && content !== null && Object.hasOwn(content, 'm.mentions');
  for (const kind of PUSH_RULE_KINDS) {
    for (const rule of ruleset[kind]) {
      if (!rule.enabled) continue;
      if (hasMentions && LEGACY_MENTION_RULES.has(rule.rule_id)) continue;
      if (!(await ruleMatches(kind, rule, event, context))) continue;
      return decisionOf(rule);
    }
  }
  return NOTHING;
}

function decisionOf(rule: PushRule): PushDecision {
  let notify = false;
  let highlight = false;
  for (const action of rule.actions) {
    if (action === 'notify') notify = true;
    if (
      typeof action === 'object' &&
      action !== null &&
      (action as Record<string, unknown>)['set_tweak'] === 'highlight' &&
      (action as Record<string, unknown>)['value'] !== false
    ) {
      highlight = true;
    }
  }
  return { actions: rule.actions, notify, highlight, ruleId: rule.rule_id };
}
