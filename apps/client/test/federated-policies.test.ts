/**
 * Two and three WeftClients on two federated Weft servers (real TLS between the servers), in
 * rooms of each policy: every client tries every message, and who reads what must equal
 * @weft/epoch's oracle — again after every client is closed and reopened from its store with the
 * passphrase (the keys each policy keeps are still there; forward-secret keeps none, only each
 * device's sealed plaintext).
 */
import { rmSync } from 'node:fs';

import type { PolicyMode } from '@weft/epoch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from '../../server/test/federation-harness.ts';
import {
  type Actor,
  decryptAttempts,
  playScenario,
  rawEvents,
  registerActors,
  restartActors,
  type ScenarioStep,
  type ScenarioUser,
} from '../scripts/demo-scenario.ts';
import { expectedTable, observedTable } from './federated-oracle.ts';
import { PASSPHRASE, tempDir } from './helpers.ts';

let federation: TestFederation;
let urls: Record<string, string>;
const open: Actor[] = [];
let scenarios = 0;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  urls = { 'a.test': federation.server('a.test').url, 'b.test': federation.server('b.test').url };
});
afterAll(async () => {
  for (const a of open) await a.client.close();
  await federation.close();
  rmSync(federation.ca.dir, { recursive: true, force: true });
  for (const m of federation.members.values()) rmSync(m.dataDir, { recursive: true, force: true });
});

/** Two users, one per server: alternate messages. */
const TWO_USERS: readonly ScenarioUser[] = [
  { name: 'alice', server: 'a.test' },
  { name: 'carol', server: 'b.test' },
];
const TWO_STEPS: readonly ScenarioStep[] = [
  { kind: 'join', user: 'carol' },
  { kind: 'say', user: 'alice', text: 'one' },
  { kind: 'say', user: 'carol', text: 'two' },
  { kind: 'say', user: 'alice', text: 'three' },
];

/** Three users (bob with alice on a.test, carol on b.test): carol joins late, bob is kicked. */
const THREE_USERS: readonly ScenarioUser[] = [
  { name: 'alice', server: 'a.test' },
  { name: 'bob', server: 'a.test' },
  { name: 'carol', server: 'b.test' },
];
const THREE_STEPS: readonly ScenarioStep[] = [
  { kind: 'join', user: 'bob' },
  { kind: 'say', user: 'alice', text: 'before carol' },
  { kind: 'say', user: 'bob', text: 'bob before carol' },
  { kind: 'join', user: 'carol' },
  { kind: 'say', user: 'carol', text: 'carol arrives' },
  { kind: 'say', user: 'alice', text: 'welcome carol' },
  { kind: 'say', user: 'bob', text: 'bob after carol' },
  { kind: 'kick', user: 'bob' },
  { kind: 'say', user: 'alice', text: 'after the kick' },
  { kind: 'say', user: 'carol', text: 'carol after the kick' },
];

/** Plays the scenario, then checks the decrypt attempts against the oracle before and after
 * restarting every client. Returns the expected table for scenario-specific checks. */
async function checkAgainstOracle(
  users: readonly ScenarioUser[],
  steps: readonly ScenarioStep[],
  mode: PolicyMode,
) {
  scenarios += 1;
  const actors = await registerActors(users, urls, tempDir(), PASSPHRASE, `-${scenarios}`);
  open.push(...actors);
  const { roomId, messages } = await playScenario(actors, mode, steps);
  const raws = rawEvents(actors, roomId, messages);
  const expected = expectedTable(users, steps, mode);

  const rows = await decryptAttempts(actors, roomId, messages, raws);
  expect(observedTable(rows)).toEqual(expected);
  // Whatever is readable reads as what was sent.
  for (const [i, row] of rows.entries())
    for (const a of row) if (a.via !== undefined) expect(a.body).toBe(messages[i]?.text);

  await restartActors(actors, PASSPHRASE);
  const again = await decryptAttempts(actors, roomId, messages, raws);
  expect(observedTable(again)).toEqual(expected);
  return expected;
}

describe.each(['shared', 'epoch', 'forward-secret'] as const)(
  '%s rooms across two servers',
  (mode) => {
    it('two clients (one per server) read what the oracle says, across restarts', async () => {
      const expected = await checkAgainstOracle(TWO_USERS, TWO_STEPS, mode);
      // Both members were there for every message: both read all of it.
      const readable = mode === 'forward-secret' ? 'archive' : 'key';
      expect(expected.flat().every((e) => e === readable)).toBe(true);
    }, 180_000);

    it('three clients, a late joiner and a kick: who reads what equals the oracle, across restarts', async () => {
      const expected = await checkAgainstOracle(THREE_USERS, THREE_STEPS, mode);
      const carolReadsFirst = expected[0]?.[2];
      const bobReadsLast = expected.at(-1)?.[1];
      // The policies differ where the oracle says they do.
      if (mode === 'shared') {
        expect(carolReadsFirst).toBe('key'); // history was shared with her
        // The price of shared: the senders' sessions did not change at the kick.
        expect(expected.at(-2)?.[1]).toBe('key');
        expect(bobReadsLast).toBe('key');
      } else {
        expect(carolReadsFirst).toBe('unreadable');
        expect(expected.at(-2)?.[1]).toBe('unreadable');
        expect(bobReadsLast).toBe('unreadable');
      }
    }, 180_000);
  },
);
