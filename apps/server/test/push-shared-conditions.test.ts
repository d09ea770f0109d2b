/**
 * One event's recipients share the results of conditions that read only the event and the room
 * (services/push/evaluate.ts), evaluated over the spec's default rules (client-server-api
 * "Predefined Rules"): what depends on the recipient — their display name, their user ID in a
 * rule of their own — must still decide per recipient, exactly as with a fresh map each.
 */
import { describe, expect, it } from 'vitest';

import type { ConditionContext } from '../src/services/push/conditions.ts';
import {
  evaluatePushRules,
  type PushDecision,
  type SharedConditionResults,
} from '../src/services/push/evaluate.ts';
import { defaultPushRules, type PushRule } from '../src/services/push-rules/defaults.ts';

const USERS = ['@alice:hs.test', '@bob:hs.test', '@carol:hs.test'];
const NAMES: Record<string, string> = {
  '@alice:hs.test': 'Alice',
  '@bob:hs.test': 'Bobby',
  '@carol:hs.test': 'Carol',
};

function contextFor(userId: string, members: number): ConditionContext {
  return {
    displayName: NAMES[userId],
    memberCount: members,
    senderMayNotify: () => true,
  };
}

/** Every user's decision, evaluated in turn with one shared map, and each with its own map. */
async function decide(event: Record<string, unknown>, members: number, own: PushRule[] = []) {
  const shared: SharedConditionResults = new Map();
  const together: Record<string, PushDecision> = {};
  const alone: Record<string, PushDecision> = {};
  for (const userId of USERS) {
    const defaults = defaultPushRules(userId);
    const ruleset = { ...defaults, override: [...own, ...defaults.override] };
    together[userId] = await evaluatePushRules(ruleset, event, contextFor(userId, members), shared);
    alone[userId] = await evaluatePushRules(ruleset, event, contextFor(userId, members));
  }
  return { together, alone, shared };
}

const base = { room_id: '!room:hs.test', sender: '@dave:hs.test', type: 'm.room.message' };

describe('condition results shared between one event’s recipients', () => {
  it('no default rule looks for mentions in the body (removed in spec v1.17)', async () => {
    const { together } = await decide(
      { ...base, content: { msgtype: 'm.text', body: 'hello Bobby, bob and @room' } },
      5,
    );
    for (const userId of USERS) {
      expect(together[userId]?.ruleId).toBe('.m.rule.message');
      expect(together[userId]?.highlight).toBe(false);
    }
  });

  it('a display name in the body highlights only the user it names', async () => {
    // One user-defined rule object with the (deprecated) condition in every user's ruleset.
    const byName: PushRule = {
      rule_id: 'my-name',
      default: false,
      enabled: true,
      conditions: [{ kind: 'contains_display_name' }],
      actions: ['notify', { set_tweak: 'highlight' }],
    };
    const { together, alone, shared } = await decide(
      { ...base, content: { msgtype: 'm.text', body: 'hello Bobby, how are you' } },
      5,
      [byName],
    );
    expect(together).toEqual(alone);
    expect(together['@bob:hs.test']?.ruleId).toBe('my-name');
    expect(together['@bob:hs.test']?.highlight).toBe(true);
    expect(together['@alice:hs.test']?.highlight).toBe(false);
    expect(together['@alice:hs.test']?.notify).toBe(true);
    // The room-wide conditions were kept, the display-name one never.
    expect(shared.size).toBeGreaterThan(0);
    for (const condition of shared.keys()) {
      expect((condition as Record<string, unknown>)['kind']).not.toBe('contains_display_name');
    }
  });

  it('an invite notifies only its target (.m.rule.invite_for_me names each user)', async () => {
    const { together, alone } = await decide(
      {
        ...base,
        type: 'm.room.member',
        state_key: '@carol:hs.test',
        content: { membership: 'invite' },
      },
      5,
    );
    expect(together).toEqual(alone);
    expect(together['@carol:hs.test']?.ruleId).toBe('.m.rule.invite_for_me');
    expect(together['@alice:hs.test']?.ruleId).not.toBe('.m.rule.invite_for_me');
  });

  it('a user mention in m.mentions highlights only the mentioned user', async () => {
    const { together, alone } = await decide(
      {
        ...base,
        content: {
          msgtype: 'm.text',
          body: 'for you',
          'm.mentions': { user_ids: ['@alice:hs.test'] },
        },
      },
      2,
    );
    expect(together).toEqual(alone);
    expect(together['@alice:hs.test']?.ruleId).toBe('.m.rule.is_user_mention');
    expect(together['@bob:hs.test']?.highlight).toBe(false);
    // Two members: the one-to-one rule (room_member_count == 2) decides for the others.
    expect(together['@bob:hs.test']?.ruleId).toBe('.m.rule.room_one_to_one');
  });

  it('a rule result kept for one event is never used for the next (same rulesets, new map)', async () => {
    // The same ruleset objects for every event, as the server's cached rulesets are.
    const rulesets = USERS.map((userId) => defaultPushRules(userId));
    const events = [
      { ...base, content: { msgtype: 'm.text', body: 'hello' } },
      { ...base, content: { msgtype: 'm.notice', body: 'a bot says hello' } },
      { ...base, content: { msgtype: 'm.text', body: 'hello again' } },
      {
        ...base,
        type: 'm.room.member',
        state_key: '@bob:hs.test',
        content: { membership: 'invite' },
      },
    ];
    const ruleIds: (string | undefined)[][] = [];
    for (const event of events) {
      const shared: SharedConditionResults = new Map();
      const row: (string | undefined)[] = [];
      for (const [i, userId] of USERS.entries()) {
        const ruleset = rulesets[i] as (typeof rulesets)[number];
        const together = await evaluatePushRules(ruleset, event, contextFor(userId, 5), shared);
        const alone = await evaluatePushRules(ruleset, event, contextFor(userId, 5));
        expect(together).toEqual(alone);
        row.push(together.ruleId);
      }
      ruleIds.push(row);
    }
    expect(ruleIds).toEqual([
      ['.m.rule.message', '.m.rule.message', '.m.rule.message'],
      ['.m.rule.suppress_notices', '.m.rule.suppress_notices', '.m.rule.suppress_notices'],
      ['.m.rule.message', '.m.rule.message', '.m.rule.message'],
      ['.m.rule.member_event', '.m.rule.invite_for_me', '.m.rule.member_event'],
    ]);
  });

  it('a disabled rule in a rebuilt ruleset no longer decides', async () => {
    const event = { ...base, content: { msgtype: 'm.notice', body: 'bot' } };
    const ruleset = defaultPushRules('@alice:hs.test');
    const first = await evaluatePushRules(ruleset, event, contextFor('@alice:hs.test', 5));
    expect(first.ruleId).toBe('.m.rule.suppress_notices');
    // A change builds a new ruleset with a new rule object, as the push-rules service does.
    const changed = {
      ...ruleset,
      override: ruleset.override.map((rule) =>
        rule.rule_id === '.m.rule.suppress_notices' ? { ...rule, enabled: false } : rule,
      ),
    };
    const second = await evaluatePushRules(changed, event, contextFor('@alice:hs.test', 5));
    expect(second.ruleId).toBe('.m.rule.message');
  });
});
