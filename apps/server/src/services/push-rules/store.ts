/**
 * SQL of the push-rules service: user-defined rules (`push_rules`, ordered by `priority`, lowest
 * first, with `enabled` and `actions` inside `rule_json`) and the user's changes to server-default
 * rules (`push_rule_overrides`: `enabled` and `actions`, `NULL` = unchanged).
 */
import type { SqlExecutor } from '../../storage/index.ts';

export type UserRuleRow = {
  readonly kind: string;
  readonly rule_id: string;
  readonly priority: number;
  readonly rule_json: string;
};

export type OverrideRow = {
  readonly kind: string;
  readonly rule_id: string;
  readonly enabled: number | null;
  readonly actions_json: string | null;
};

export function selectUserRules(db: SqlExecutor, userId: string): Promise<UserRuleRow[]> {
  return db.query<UserRuleRow>(
    'SELECT kind, rule_id, priority, rule_json FROM push_rules WHERE user_id = $1 ORDER BY kind, priority',
    [userId],
  );
}

export function selectOverrides(db: SqlExecutor, userId: string): Promise<OverrideRow[]> {
  return db.query<OverrideRow>(
    'SELECT kind, rule_id, enabled, actions_json FROM push_rule_overrides WHERE user_id = $1',
    [userId],
  );
}

export async function upsertUserRule(
  tx: SqlExecutor,
  userId: string,
  kind: string,
  ruleId: string,
  priority: number,
  ruleJson: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO push_rules (user_id, kind, rule_id, priority, rule_json) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, kind, rule_id)
     DO UPDATE SET priority = excluded.priority, rule_json = excluded.rule_json`,
    [userId, kind, ruleId, priority, ruleJson],
  );
}

export async function deleteUserRule(
  tx: SqlExecutor,
  userId: string,
  kind: string,
  ruleId: string,
): Promise<number> {
  return tx.execute('DELETE FROM push_rules WHERE user_id = $1 AND kind = $2 AND rule_id = $3', [
    userId,
    kind,
    ruleId,
  ]);
}

export async function upsertOverride(
  tx: SqlExecutor,
  userId: string,
  kind: string,
  ruleId: string,
  change: { enabled?: boolean; actionsJson?: string },
): Promise<void> {
  const current = await tx.queryOne<OverrideRow>(
    `SELECT kind, rule_id, enabled, actions_json FROM push_rule_overrides
      WHERE user_id = $1 AND kind = $2 AND rule_id = $3`,
    [userId, kind, ruleId],
  );
  const enabled =
    change.enabled === undefined ? (current?.enabled ?? null) : change.enabled ? 1 : 0;
  const actions = change.actionsJson ?? current?.actions_json ?? null;
  await tx.execute(
    `INSERT INTO push_rule_overrides (user_id, kind, rule_id, enabled, actions_json)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, kind, rule_id)
     DO UPDATE SET enabled = excluded.enabled, actions_json = excluded.actions_json`,
    [userId, kind, ruleId, enabled, actions],
  );
}
