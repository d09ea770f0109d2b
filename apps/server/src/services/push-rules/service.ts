/**
 * Push rules (client-server-api "Push Rules: API",
 * https://spec.matrix.org/v1.19/client-server-api/#push-rules-api): the spec's server-default
 * rules (defaults.ts) merged with what the user changed. Ruleset order per kind follows spec
 * "Predefined Rules": `.m.rule.master` first, then user-defined rules, then server-default ones.
 *
 * Every change rewrites the user's `m.push_rules` account data in the same transaction, so other
 * devices learn of it through `/sync` (spec "Push Rules: Events").
 */
import { encodeCanonicalJson, parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import { LruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { AccountDataService } from '../account-data/service.ts';
import type { ServerContext } from '../core/context.ts';
import {
  defaultPushRules,
  MASTER_RULE,
  PUSH_RULE_KINDS,
  type PushRule,
  type PushRuleKind,
} from './defaults.ts';
import {
  deleteUserRule,
  type OverrideRow,
  selectOverrides,
  selectUserRules,
  type UserRuleRow,
  upsertOverride,
  upsertUserRule,
} from './store.ts';

/** The `global` scope's ruleset: kind → rules in evaluation order. */
export type PushRuleset = Record<PushRuleKind, PushRule[]>;

/** What a client sends to create or replace a user-defined rule. */
export interface NewPushRule {
  readonly actions: readonly unknown[];
  readonly conditions?: readonly Record<string, unknown>[];
  readonly pattern?: string;
}

export function isPushRuleKind(value: string): value is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(value);
}

function applyOverride(rule: PushRule, override: OverrideRow | undefined): PushRule {
  if (override === undefined) return rule;
  return {
    ...rule,
    ...(override.enabled !== null ? { enabled: Number(override.enabled) === 1 } : {}),
    ...(override.actions_json !== null
      ? { actions: parseAnyJson(override.actions_json) as unknown[] }
      : {}),
  };
}

function buildRuleset(
  userId: string,
  userRules: readonly UserRuleRow[],
  overrides: readonly OverrideRow[],
): PushRuleset {
  const defaults = defaultPushRules(userId);
  const overrideOf = (kind: string, ruleId: string) =>
    overrides.find((o) => o.kind === kind && o.rule_id === ruleId);
  const ruleset = {} as PushRuleset;
  for (const kind of PUSH_RULE_KINDS) {
    const own = userRules
      .filter((row) => row.kind === kind)
      .sort((a, b) => Number(a.priority) - Number(b.priority))
      .map((row) => ({ ...(parseAnyJson(row.rule_json) as PushRule), rule_id: row.rule_id }));
    const server = defaults[kind].map((rule) =>
      applyOverride(rule, overrideOf(kind, rule.rule_id)),
    );
    ruleset[kind] =
      kind === 'override'
        ? [applyOverride(MASTER_RULE, overrideOf(kind, MASTER_RULE.rule_id)), ...own, ...server]
        : [...own, ...server];
  }
  return ruleset;
}

/**
 * Rulesets kept in memory, one per user; least recently used go first. A default ruleset is
 * ≈ 1.3 kB of heap (the rules that do not name the user are shared; 5,000 built, measured
 * 2026-11-30), so the bound keeps the cache under ≈ 26 MB however many local users there are.
 * Push evaluation reads every local recipient's ruleset for each event, and the eviction is
 * second-chance LRU: a room with more local members than the bound would miss nearly every one
 * of them (two queries each) on every event, so the bound sits far above any one room's local
 * membership this server is sized for.
 */
export const RULESET_CACHE_SIZE = 20_000;

export class PushRuleService {
  readonly #ctx: ServerContext;
  readonly #accountData: AccountDataService;
  /**
   * Rulesets as last read, by user: push evaluation reads every recipient's ruleset for every
   * event. `#generation` moves on each change, so a read that raced a change is not cached.
   */
  readonly #cache: LruMap<string, PushRuleset>;
  #generation = 0;

  /** `cacheSize`: how many users' rulesets are kept in memory. */
  constructor(ctx: ServerContext, accountData: AccountDataService, cacheSize = RULESET_CACHE_SIZE) {
    this.#ctx = ctx;
    this.#accountData = accountData;
    this.#cache = new LruMap(cacheSize);
  }

  /** How many users' rulesets are kept in memory (for tests). */
  get cachedRulesets(): number {
    return this.#cache.size;
  }

  /** The user's whole `global` ruleset. */
  async ruleset(userId: string, db: SqlExecutor = this.#ctx.db): Promise<PushRuleset> {
    const cached = this.#cache.get(userId);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const ruleset = buildRuleset(
      userId,
      await selectUserRules(db, userId),
      await selectOverrides(db, userId),
    );
    if (generation === this.#generation) this.#cache.set(userId, ruleset);
    return ruleset;
  }

  /** One rule; 404 `M_NOT_FOUND` when it does not exist. */
  async rule(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    db?: SqlExecutor,
  ): Promise<PushRule> {
    const found = (await this.ruleset(userId, db))[kind].find((rule) => rule.rule_id === ruleId);
    if (found === undefined) throw MatrixError.notFound('Unknown push rule');
    return found;
  }

  /**
   * Creates or replaces a user-defined rule. Without `before`/`after` a new rule becomes the most
   * important user-defined rule of its kind and a replaced one keeps its place; `before`/`after`
   * name another user-defined rule of the same kind (spec: not a server-default one).
   */
  async put(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    rule: NewPushRule,
    position: { before?: string; after?: string },
  ): Promise<void> {
    if (ruleId.startsWith('.')) {
      throw MatrixError.invalidParam('rule_id must not start with "." (server-default rules)');
    }
    // pushrules.yaml ruleId: 'Slashes ("/") and backslashes ("\\") are also not allowed.'
    if (ruleId.includes('/') || ruleId.includes('\\')) {
      throw MatrixError.invalidParam('rule_id must not contain "/" or "\\"');
    }
    await this.#write(userId, async (tx) => {
      const rows = (await selectUserRules(tx, userId)).filter((row) => row.kind === kind);
      const order = rows.map((row) => row.rule_id);
      const existing = order.indexOf(ruleId);
      const previous = existing >= 0 ? rows[existing] : undefined;
      const enabled =
        previous === undefined ? true : (parseAnyJson(previous.rule_json) as PushRule).enabled;
      const anchor = position.before ?? position.after;
      if (anchor !== undefined || existing < 0) {
        if (existing >= 0) order.splice(existing, 1);
        let at = 0;
        if (anchor !== undefined) {
          const index = order.indexOf(anchor);
          // pushrules.yaml: 400 `M_UNKNOWN` "before/after rule not found" (a server-default
          // rule is never an anchor: "not possible to add a rule relative to a predefined one").
          if (index < 0) throw MatrixError.unknown(`before/after rule not found: ${anchor}`, 400);
          at = position.before !== undefined ? index : index + 1;
        }
        order.splice(at, 0, ruleId);
      }
      const stored: PushRule = {
        rule_id: ruleId,
        default: false,
        enabled,
        actions: [...rule.actions],
        ...(rule.conditions !== undefined ? { conditions: [...rule.conditions] } : {}),
        ...(rule.pattern !== undefined ? { pattern: rule.pattern } : {}),
      };
      for (const [priority, id] of order.entries()) {
        const json =
          id === ruleId
            ? encodeCanonicalJson(stored)
            : (rows.find((row) => row.rule_id === id)?.rule_json ?? '');
        await upsertUserRule(tx, userId, kind, id, priority, json);
      }
    });
  }

  /** Deletes a user-defined rule (server-default rules cannot be deleted: 400). */
  async delete(userId: string, kind: PushRuleKind, ruleId: string): Promise<void> {
    if (ruleId.startsWith('.')) {
      await this.rule(userId, kind, ruleId);
      throw MatrixError.invalidParam('Server-default rules cannot be deleted');
    }
    await this.#write(userId, async (tx) => {
      if ((await deleteUserRule(tx, userId, kind, ruleId)) === 0) {
        throw MatrixError.notFound('Unknown push rule');
      }
    });
  }

  /** Enables or disables any rule. */
  async setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean) {
    await this.#change(userId, kind, ruleId, { enabled });
  }

  /** Replaces any rule's actions. */
  async setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: unknown[]) {
    await this.#change(userId, kind, ruleId, { actions });
  }

  async #change(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    change: { enabled?: boolean; actions?: unknown[] },
  ): Promise<void> {
    await this.#write(userId, async (tx) => {
      const current = await this.rule(userId, kind, ruleId, tx);
      if (current.default) {
        await upsertOverride(tx, userId, kind, ruleId, {
          ...(change.enabled !== undefined ? { enabled: change.enabled } : {}),
          ...(change.actions !== undefined
            ? { actionsJson: encodeCanonicalJson(change.actions) }
            : {}),
        });
        return;
      }
      const rows = await selectUserRules(tx, userId);
      const row = rows.find((r) => r.kind === kind && r.rule_id === ruleId);
      if (row === undefined) throw MatrixError.notFound('Unknown push rule');
      const updated = { ...current, ...change };
      await upsertUserRule(
        tx,
        userId,
        kind,
        ruleId,
        Number(row.priority),
        encodeCanonicalJson(updated),
      );
    });
  }

  /**
   * Runs a change and the `m.push_rules` account data rewrite in one transaction (whose
   * after-commit hook announces the rewrite: account-data `setInTransaction`).
   */
  async #write(userId: string, work: (tx: SqlExecutor) => Promise<void>): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      this.#forget(userId);
      await work(tx);
      this.#forget(userId);
      const global = buildRuleset(
        userId,
        await selectUserRules(tx, userId),
        await selectOverrides(tx, userId),
      );
      await this.#accountData.setInTransaction(tx, userId, undefined, 'm.push_rules', { global });
    });
    this.#forget(userId);
  }

  #forget(userId: string): void {
    this.#generation++;
    this.#cache.delete(userId);
  }
}
