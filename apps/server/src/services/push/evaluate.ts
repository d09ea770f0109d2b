/**
 * Push rule evaluation (client-server-api "Push Rules", https://spec.matrix.org/v1.19/client-server-api/#push-rules):
 * the kinds are tried in order (override, content, room, sender, underride) and, within a kind,
 * rule by rule; the first enabled rule whose conditions all match decides the event's actions.
 * No match means no actions.
 */
import type { PushRule } from '../push-rules/defaults.ts';
import { PUSH_RULE_KINDS } from '../push-rules/defaults.ts';
import type { PushRuleset } from '../push-rules/service.ts';
import {
  type ConditionContext,
  conditionMatches,
  dependsOnRecipient,
  globMatches,
  valueAt,
} from './conditions.ts';

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

/**
 * Condition results shared by the recipients of one event (`dependsOnRecipient` says which may
 * be shared), keyed by the condition object: the server-default rules that name no user are one
 * object for every user's ruleset, so one event's recipients evaluate each of them once.
 */
export type SharedConditionResults = Map<object, boolean>;

function ruleMatches(
  kind: (typeof PUSH_RULE_KINDS)[number],
  rule: PushRule,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
  shared: SharedConditionResults,
): boolean | Promise<boolean> {
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
      return conditionsMatch(rule.conditions ?? [], 0, event, context, shared);
  }
}

/** Whether `conditions[from…]` all hold; synchronous until a condition needs a room fact. */
function conditionsMatch(
  conditions: readonly Readonly<Record<string, unknown>>[],
  from: number,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
  shared: SharedConditionResults,
): boolean | Promise<boolean> {
  for (let i = from; i < conditions.length; i++) {
    const condition = conditions[i] as Readonly<Record<string, unknown>>;
    const known = shared.get(condition);
    if (known === false) return false;
    if (known === true) continue;
    const matched = conditionMatches(condition, event, context);
    const share = !dependsOnRecipient(condition);
    if (typeof matched === 'boolean') {
      if (share) shared.set(condition, matched);
      if (!matched) return false;
      continue;
    }
    return matched.then((result) => {
      if (share) shared.set(condition, result);
      return result && conditionsMatch(conditions, i + 1, event, context, shared);
    });
  }
  return true;
}

/**
 * Evaluates `ruleset` for `event` (a PDU or client event: type, content, sender, …). `shared`
 * carries condition results between the recipients of the same event (a new map per event).
 * Synchronous unless a condition awaits a room fact (the sender's power to notify): an event's
 * recipients are evaluated without a promise each.
 */
export function evaluatePushRules(
  ruleset: PushRuleset,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
  shared: SharedConditionResults = new Map(),
): PushDecision | Promise<PushDecision> {
  const content = event['content'];
  const hasMentions =
    typeof content === 'object' && content !== null && Object.hasOwn(content, 'm.mentions');
  return evaluateFrom({ ruleset, event, context, shared, hasMentions }, 0, 0);
}

interface Evaluation {
  readonly ruleset: PushRuleset;
  readonly event: Readonly<Record<string, unknown>>;
  readonly context: ConditionContext;
  readonly shared: SharedConditionResults;
  readonly hasMentions: boolean;
}

/** Tries the rules from kind `kindIndex`, rule `ruleIndex` on, in the spec's order. */
function evaluateFrom(
  run: Evaluation,
  kindIndex: number,
  ruleIndex: number,
): PushDecision | Promise<PushDecision> {
  for (let k = kindIndex; k < PUSH_RULE_KINDS.length; k++) {
    const kind = PUSH_RULE_KINDS[k] as (typeof PUSH_RULE_KINDS)[number];
    const rules = run.ruleset[kind];
    for (let r = k === kindIndex ? ruleIndex : 0; r < rules.length; r++) {
      const rule = rules[r] as PushRule;
      if (!rule.enabled) continue;
      if (run.hasMentions && LEGACY_MENTION_RULES.has(rule.rule_id)) continue;
      const matched = ruleMatches(kind, rule, run.event, run.context, run.shared);
      if (matched === true) return decisionOf(rule);
      if (matched !== false) {
        return matched.then((result) => (result ? decisionOf(rule) : evaluateFrom(run, k, r + 1)));
      }
    }
  }
  return NOTHING;
}

/** Decisions by rule: every recipient a rule decides for gets the same (immutable) object. */
const decisions = new WeakMap<PushRule, PushDecision>();

function decisionOf(rule: PushRule): PushDecision {
  const known = decisions.get(rule);
  if (known !== undefined) return known;
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
  const decision = { actions: rule.actions, notify, highlight, ruleId: rule.rule_id };
  decisions.set(rule, decision);
  return decision;
}
