/**
 * How one event's push decisions are stored (migration 0101): the decision most of its
 * audience got once for all of them (`push_room_actions`), the others per user
 * (`push_user_actions`). In a room every member's default rules decide the same for most
 * events, so an event writes one row whatever the room's size.
 */
import type { PushDecision } from './evaluate.ts';
import type { StoredDecision } from './store.ts';

/** Stored forms by decision: a rule's decision is one object (evaluate.ts), encoded once. */
const storedForms = new WeakMap<PushDecision, StoredDecision>();

/** A decision as stored: flags and the actions as JSON. */
export function stored(decision: PushDecision): StoredDecision {
  let form = storedForms.get(decision);
  if (form === undefined) {
    form = {
      notify: decision.notify ? 1 : 0,
      highlight: decision.highlight ? 1 : 0,
      actions_json: JSON.stringify(decision.actions),
    };
    storedForms.set(decision, form);
  }
  return form;
}

/** Whether a decision notifies (what counts and lists; a highlight is a notification's flag). */
export function notifies(decision: StoredDecision): boolean {
  return decision.notify !== 0;
}

function sameDecision(a: StoredDecision, b: StoredDecision): boolean {
  return a.notify === b.notify && a.highlight === b.highlight && a.actions_json === b.actions_json;
}

/**
 * Splits the audience's decisions into the shared one and the users' own: `shared` is the
 * decision most of them got, `undefined` when that is "nothing" (a tie included), so an event
 * that notifies few writes no shared row. With a shared decision, every user deciding
 * otherwise gets their own row, one that neither notifies nor highlights included (a muted
 * room); without one, only the users it notifies.
 */
export function splitDecisions(decisions: ReadonlyMap<string, StoredDecision>): {
  shared: StoredDecision | undefined;
  own: Map<string, StoredDecision>;
} {
  const tally = new Map<string, { decision: StoredDecision; count: number }>();
  let best: { decision: StoredDecision; count: number } | undefined;
  let nothing = 0;
  for (const decision of decisions.values()) {
    if (!notifies(decision)) {
      nothing++;
      continue;
    }
    const key = `${decision.notify}${decision.highlight}${decision.actions_json}`;
    const entry = tally.get(key) ?? { decision, count: 0 };
    entry.count++;
    tally.set(key, entry);
    if (best === undefined || entry.count > best.count) best = entry;
  }
  const shared = best !== undefined && best.count > nothing ? best.decision : undefined;
  const own = new Map<string, StoredDecision>();
  for (const [userId, decision] of decisions) {
    if (shared === undefined ? notifies(decision) : !sameDecision(decision, shared)) {
      own.set(userId, decision);
    }
  }
  return { shared, own };
}
