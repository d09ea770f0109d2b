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

/** What the rules decided for one user and one event. */
export interface PushDecision {
  readonly actions: readonly unknown[];
  /** The `notify` action is present. */
  readonly notify: boolean;
  /** `notify` and a `highlight` tweak whose value is not `false` are present. */
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
  const run = { event, context, shared, token: tokenOf(shared) };
  return evaluateFrom(run, compiledRuleset(ruleset), 0);
}

interface Evaluation {
  readonly event: Readonly<Record<string, unknown>>;
  readonly context: ConditionContext;
  readonly shared: SharedConditionResults;
  /** The event's number: a rule's kept result is for the event whose token it holds. */
  readonly token: number;
}

/**
 * A rule as evaluation uses it: what it decides, and its result for the event being evaluated.
 * Every recipient of an event walks the same server-default rules (one object for every user),
 * so the first recipient's result for a rule that does not depend on the recipient is kept on
 * its compiled form for the others: reading each rule's conditions again per recipient (rules
 * and conditions of many shapes, so every property read was a slow polymorphic one) was
 * ≈ 6 µs per recipient, most of push evaluation.
 */
interface CompiledRule {
  readonly kind: (typeof PUSH_RULE_KINDS)[number];
  readonly rule: PushRule;
  readonly enabled: boolean;
  /** Its result may differ between recipients of one event (`contains_display_name`). */
  readonly perRecipient: boolean;
  readonly decision: PushDecision;
  /** The event whose result `result` is (0: none). */
  token: number;
  result: boolean | Promise<boolean>;
}

/** Compiled forms by rule object, so a server-default rule has one for every user. */
const compiledRules = new WeakMap<PushRule, CompiledRule>();
/**
 * Rulesets as one ordered list of compiled rules. A ruleset is never changed in place (a change
 * to a user's rules builds a new one), and neither are its rules.
 */
const compiledRulesets = new WeakMap<PushRuleset, readonly CompiledRule[]>();

function compiledRuleset(ruleset: PushRuleset): readonly CompiledRule[] {
  let compiled = compiledRulesets.get(ruleset);
  if (compiled === undefined) {
    const list: CompiledRule[] = [];
    for (const kind of PUSH_RULE_KINDS) {
      for (const rule of ruleset[kind]) list.push(compileRule(kind, rule));
    }
    compiled = list;
    compiledRulesets.set(ruleset, compiled);
  }
  return compiled;
}

function compileRule(kind: (typeof PUSH_RULE_KINDS)[number], rule: PushRule): CompiledRule {
  const known = compiledRules.get(rule);
  // One rule object sits under one kind; a caller reusing it under another gets its own form.
  if (known !== undefined && known.kind === kind) return known;
  const usesConditions = kind === 'override' || kind === 'underride';
  const compiled: CompiledRule = {
    kind,
    rule,
    enabled: rule.enabled,
    perRecipient: usesConditions && (rule.conditions ?? []).some(dependsOnRecipient),
    decision: decisionOf(rule),
    token: 0,
    result: false,
  };
  if (known === undefined) compiledRules.set(rule, compiled);
  return compiled;
}

/** Events by their shared map: a number per event, so a kept result holds no map alive. */
const eventTokens = new WeakMap<SharedConditionResults, number>();
let lastToken = 0;

function tokenOf(shared: SharedConditionResults): number {
  let token = eventTokens.get(shared);
  if (token === undefined) {
    token = ++lastToken;
    eventTokens.set(shared, token);
  }
  return token;
}

/** Tries the compiled rules from `from` on, in the spec's order (kinds, then rules). */
function evaluateFrom(
  run: Evaluation,
  rules: readonly CompiledRule[],
  from: number,
): PushDecision | Promise<PushDecision> {
  for (let i = from; i < rules.length; i++) {
    const compiled = rules[i] as CompiledRule;
    if (!compiled.enabled) continue;
    let matched: boolean | Promise<boolean>;
    if (compiled.token === run.token) {
      matched = compiled.result;
    } else {
      matched = ruleMatches(compiled.kind, compiled.rule, run.event, run.context, run.shared);
      if (!compiled.perRecipient) {
        compiled.token = run.token;
        compiled.result = matched;
      }
    }
    if (matched === true) return compiled.decision;
    if (matched !== false) {
      return matched.then((result) =>
        result ? compiled.decision : evaluateFrom(run, rules, i + 1),
      );
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
  // Spec: `notify` generates a notification and `highlight_count` counts unread notifications
  // with the highlight flag, so a highlight tweak without `notify` highlights nothing.
  const decision = {
    actions: rule.actions,
    notify,
    highlight: notify && highlight,
    ruleId: rule.rule_id,
  };
  decisions.set(rule, decision);
  return decision;
}
