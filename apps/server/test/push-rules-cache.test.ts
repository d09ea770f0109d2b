/**
 * The push-rules cache (services/push-rules/service.ts) is bounded: past its size the least
 * recently used users' rulesets are dropped, and an evicted user's ruleset is read again from the
 * database, the same as before (their own rules included).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PushRuleService } from '../src/services/push-rules/service.ts';
import type { SqlExecutor } from '../src/storage/index.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('push-rules cache', () => {
  it('keeps at most its bound of rulesets and reads an evicted one again', async () => {
    const { ctx, accountData } = server.services;
    const rules = new PushRuleService(ctx, accountData, 3);
    const users = Array.from({ length: 8 }, (_, i) => `@cache${i}:test.local`);
    await rules.put(users[0] as string, 'room', '!muted:test.local', { actions: [] }, {});
    // Counts the statements of the ruleset reads.
    let reads = 0;
    const db: SqlExecutor = Object.assign(Object.create(ctx.db) as SqlExecutor, {
      query: (sql: string, params?: readonly (string | number | null)[]) => {
        reads++;
        return ctx.db.query(sql, params);
      },
    });
    const first = await rules.ruleset(users[0] as string, db);
    expect(first.room.map((rule) => rule.rule_id)).toEqual(['!muted:test.local']);
    expect(reads).toBe(2);
    // Kept: no statement.
    await rules.ruleset(users[0] as string, db);
    expect(reads).toBe(2);

    for (const userId of users.slice(1)) {
      await rules.ruleset(userId, db);
      expect(rules.cachedRulesets).toBeLessThanOrEqual(3);
    }
    expect(rules.cachedRulesets).toBe(3);
    expect(reads).toBe(2 + 2 * 7);

    // users[0] was evicted: read again, equal to what it was (their own rule included).
    const again = await rules.ruleset(users[0] as string, db);
    expect(reads).toBe(2 + 2 * 8);
    expect(again).toEqual(first);
    expect(rules.cachedRulesets).toBe(3);
    // A change of an evicted user's rules is seen at their next read.
    await rules.put(users[1] as string, 'room', '!other:test.local', { actions: [] }, {});
    expect((await rules.ruleset(users[1] as string)).room.map((rule) => rule.rule_id)).toEqual([
      '!other:test.local',
    ]);
  });
});
