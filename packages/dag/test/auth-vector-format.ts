/**
 * The `auth_cases` vector format (../shared/vectors/README.md, state-res.json): each case gives a
 * room version, the auth state and an event, and the verdict the full authorization rules must
 * reach. `reason` is free text from the source test; when it clearly names a rule we also check
 * our typed reason, otherwise only the verdict.
 */
import assert from 'node:assert/strict';

import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

import {
  type AuthRejection,
  checkAuth,
  type DagEvent,
  roomVersionRules,
  stateKeyOf,
} from '../src/index.ts';

interface AuthCase {
  readonly name: string;
  readonly origin: string;
  readonly room_version: string;
  readonly auth_state: readonly DagEvent[];
  readonly event: DagEvent;
  readonly allowed: boolean;
  readonly reason: string;
}

/** Free-text reasons of the vector file that map onto one of our typed rejection reasons. */
const REASON_PATTERNS: ReadonlyArray<readonly [RegExp, readonly AuthRejection[]]> = [
  [/required power level|target level .* not </, ['insufficient-power']],
  [/sender != state_key/, ['sender-not-target']],
  [/^target banned$|^banned$/, ['sender-banned', 'target-banned', 'knock-not-allowed']],
  [/power levels must be integers/, ['invalid-power-levels']],
  [/create must have no prev_events/, ['create-has-prev-events']],
  [/join_rule not knock/, ['join-rule-forbids-knock']],
  [/rule 10\.4/, ['creator-in-power-levels']],
];

function isAuthCase(value: unknown): value is AuthCase {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c['name'] === 'string' &&
    typeof c['room_version'] === 'string' &&
    Array.isArray(c['auth_state']) &&
    typeof c['event'] === 'object' &&
    typeof c['allowed'] === 'boolean'
  );
}

function runCase(c: AuthCase): void {
  const rules = roomVersionRules(c.room_version);
  assert.ok(rules, `room version ${c.room_version} is supported`);
  const byId = new Map(c.auth_state.map((e) => [e.event_id, e]));
  // A rejected event is never room state; it stays reachable by ID so that citing it in
  // auth_events is caught by rule 3.3.
  const state = new Map(
    c.auth_state
      .filter((e) => e.state_key !== undefined && e.rejected !== true)
      .map((e) => [stateKeyOf(e.type, e.state_key ?? ''), e]),
  );
  // The file's fixtures carry no real signatures: its format_note says to treat third-party
  // invite signatures as valid unless a case says otherwise (a false `*signature*` field).
  const signaturesValid = !Object.entries(c).some(
    ([key, value]) => /signature/i.test(key) && value === false,
  );
  const outcome = checkAuth(c.event, state, rules, {
    authEvent: (id) => byId.get(id),
    verifyThirdPartyInviteSignature: () => signaturesValid,
  });
  const detail = outcome.allowed ? 'allowed' : `${outcome.reason}: ${outcome.detail}`;
  assert.equal(
    outcome.allowed,
    c.allowed,
    `expected allowed=${c.allowed} (${c.reason}), got ${detail}`,
  );
  if (outcome.allowed) return;
  for (const [pattern, reasons] of REASON_PATTERNS) {
    if (pattern.test(c.reason)) {
      assert.ok(
        reasons.includes(outcome.reason),
        `reason "${c.reason}" should map to ${reasons.join('|')}, got ${detail}`,
      );
    }
  }
}

/** `state-res.json` `auth_cases`: one case per entry, named after its origin. */
export const authCasesFormat: VectorFormat = {
  name: 'dag-auth-cases',
  detect(file: VectorFile): boolean {
    const cases = file['auth_cases'];
    return Array.isArray(cases) && cases.length > 0 && cases.every(isAuthCase);
  },
  cases(file: VectorFile): VectorCase[] {
    const cases = (file['auth_cases'] as unknown[]).filter(isAuthCase);
    return cases.map((c, i) => ({
      name: `auth_cases[${i}] ${c.name} (${c.origin})`,
      run: () => runCase(c),
    }));
  },
};
