/**
 * Who should read what in a scenario (scripts/demo-scenario.ts), from @weft/epoch's oracle
 * (packages/epoch/test/oracle.ts, the one its simulation and property tests check the engine
 * against). Each user has one device, named as the oracle names them: alice → a1, bob → b1,
 * carol → c1, dave → d1.
 */
import type { PolicyMode } from '@weft/epoch';

import {
  DEVICE_OWNER,
  expectedReaders,
  type SimEvent,
} from '../../../packages/epoch/test/oracle.ts';
import type { Attempt, ScenarioStep, ScenarioUser } from '../scripts/demo-scenario.ts';

/** The oracle's device for a user. */
function deviceOf(name: string): string {
  const device = `${name[0]}1`;
  if (DEVICE_OWNER[device] !== `@${name}:weft.test`)
    throw new Error(`the oracle has no device for ${name}`);
  return device;
}

/** The scenario as the oracle's events: the first user creates the room and is joined. */
export function toSimEvents(
  users: readonly ScenarioUser[],
  steps: readonly ScenarioStep[],
): SimEvent[] {
  const userId = (name: string) => DEVICE_OWNER[deviceOf(name)] ?? '';
  const events: SimEvent[] = users.map((u) => ({ kind: 'add-device', device: deviceOf(u.name) }));
  events.push({ kind: 'member', user: userId(users[0]?.name ?? ''), membership: 'join' });
  for (const step of steps) {
    if (step.kind === 'join') {
      events.push({ kind: 'member', user: userId(step.user), membership: 'invite' });
      events.push({ kind: 'member', user: userId(step.user), membership: 'join' });
    } else if (step.kind === 'kick') {
      events.push({ kind: 'member', user: userId(step.user), membership: 'leave' });
    } else {
      events.push({ kind: 'send', device: deviceOf(step.user) });
    }
  }
  return events;
}

/** What a decrypt attempt should give: readable with a key, from the own archive, or not. */
export type Expected = 'key' | 'archive' | 'unreadable';

/**
 * The expected outcome of every user's decrypt attempt on every message, after the scenario.
 * `shared`/`epoch`: the oracle's readers hold the key. `forward-secret`: no key survives
 * (`finalReaders` is empty), and readers — the sender included — show their sealed plaintext.
 */
export function expectedTable(
  users: readonly ScenarioUser[],
  steps: readonly ScenarioStep[],
  mode: PolicyMode,
): Expected[][] {
  const verdicts = expectedReaders(toSimEvents(users, steps), { mode });
  return verdicts.map((m) =>
    users.map((u) => {
      const device = deviceOf(u.name);
      if (m.finalReaders.has(device)) return 'key';
      if (m.mode === 'forward-secret' && (m.readers.has(device) || m.sender === device))
        return 'archive';
      return 'unreadable';
    }),
  );
}

/** The attempts in the same shape as {@link expectedTable}. */
export function observedTable(rows: readonly Attempt[][]): Expected[][] {
  return rows.map((row) => row.map((a) => a.via ?? 'unreadable'));
}
