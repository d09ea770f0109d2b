/**
 * The spectrum, end to end: the same membership story (3+ users, 7 devices: invites, joins, a
 * kick, a rejoin, a ban, added and removed devices) under each policy, with real Megolm (libolm)
 * and real Olm (@weft/ratchet) between devices. Who decrypted what must equal the oracle, which
 * is computed from the policy definitions alone.
 */

import { type MegolmBackend, type PolicyMode, ratchetMegolm } from '@weft/epoch';
import { beforeAll, describe, expect, it } from 'vitest';

import { libolmMegolm, loadLibOlm } from './libolm.ts';
import { type ExpectedMessage, expectedReaders } from './oracle.ts';
import { STORY, stepOf } from './scenario.ts';
import { type MegolmChoice, type SimulationResult, simulate } from './simulation.ts';

let libolm: MegolmBackend;
beforeAll(async () => {
  libolm = libolmMegolm(await loadLibOlm());
});

/**
 * Megolm implementations under test: Weft's own everywhere, libolm everywhere, and a mix where
 * alice's and carol's devices run Weft while bob's and dave's run libolm, so every key crosses
 * between the two implementations in both formats (session-sharing and export).
 */
const BACKENDS: Record<string, () => MegolmChoice> = {
  '@weft/ratchet': () => ratchetMegolm,
  libolm: () => libolm,
  'mixed @weft/ratchet + libolm': () => (device) => (/^[ac]/.test(device) ? ratchetMegolm : libolm),
};

const events = STORY.map(([, event]) => event);

function table(messages: readonly { step: number }[], readers: (i: number) => ReadonlySet<string>) {
  return Object.fromEntries(messages.map((m, i) => [STORY[m.step]?.[0], [...readers(i)].sort()]));
}

interface Run {
  result: SimulationResult;
  expected: ExpectedMessage[];
}

/** Runs with Weft's Megolm are shared between the tests that only read their outcome. */
const runs = new Map<PolicyMode, Promise<Run>>();

async function run(mode: PolicyMode, megolm?: MegolmChoice): Promise<Run> {
  const go = async () => ({
    result: await simulate(events, { mode }, megolm ?? ratchetMegolm),
    expected: expectedReaders(events, { mode }),
  });
  if (megolm !== undefined) return go();
  let cached = runs.get(mode);
  if (cached === undefined) {
    cached = go();
    runs.set(mode, cached);
  }
  return cached;
}

function readersOf(result: SimulationResult, label: string): Set<string> {
  const m = result.messages.find((x) => x.step === stepOf(label));
  if (m === undefined) throw new Error(`${label} was not sent`);
  return new Set([...m.liveReaders, ...m.finalReaders]);
}

describe.each(['shared', 'epoch', 'forward-secret'] as const)(
  'RoomEncryptor + RoomKeyReceiver, %s room',
  (mode) => {
    it.each(Object.keys(BACKENDS))(
      'lets exactly the oracle’s devices decrypt each message (%s)',
      async (backend) => {
        const choose = BACKENDS[backend];
        if (choose === undefined) throw new Error(backend);
        const { result, expected } = await run(mode, choose());
        expect(result.messages.map((m) => m.step)).toEqual(expected.map((m) => m.step));
        const observed = table(result.messages, (i) => {
          const m = result.messages[i];
          return new Set([...(m?.liveReaders ?? []), ...(m?.finalReaders ?? [])]);
        });
        expect(observed).toEqual(table(expected, (i) => expected[i]?.readers ?? new Set()));
        expect(
          table(result.messages, (i) => result.messages[i]?.finalReaders ?? new Set()),
        ).toEqual(table(expected, (i) => expected[i]?.finalReaders ?? new Set()));
      },
    );
  },
);

describe('the price and the protection of each policy', () => {
  it('shared: the kicked member still reads what the unchanged session encrypts after the kick', async () => {
    const { result } = await run('shared');
    expect(readersOf(result, 'm5 a1').has('b1')).toBe(true);
    // …until a rekey: dave's kick carried the rekey option, so m11 is out of his reach.
    expect(readersOf(result, 'm11 a1').has('d1')).toBe(false);
  });

  it('shared: a newcomer reads history sent before it was invited', async () => {
    const { result } = await run('shared');
    expect(readersOf(result, 'm1 a1').has('d1')).toBe(true);
    expect(readersOf(result, 'm1 a1').has('c2')).toBe(true);
  });

  it.each(['epoch', 'forward-secret'] as const)(
    '%s: a kicked member reads nothing sent after the kick',
    async (mode) => {
      const { result } = await run(mode);
      for (const label of ['m5 a1', 'm6 c1', 'm7 a2', 'm8 a1', 'm9 d1']) {
        expect(readersOf(result, label).has('b1')).toBe(false);
      }
    },
  );

  it.each(['epoch', 'forward-secret'] as const)(
    '%s: a newcomer reads nothing sent before its invite',
    async (mode) => {
      const { result } = await run(mode);
      for (const label of [
        'm1 a1',
        'm2 b1',
        'm3 a1',
        'm4 c1',
        'm5 a1',
        'm6 c1',
        'm7 a2',
        'm8 a1',
      ]) {
        expect(readersOf(result, label).has('d1')).toBe(false);
      }
      for (const label of ['m1 a1', 'm2 b1'])
        expect(readersOf(result, label).has('c1')).toBe(false);
    },
  );

  it.each(['epoch', 'forward-secret'] as const)(
    '%s: a member who left reads nothing sent after leaving',
    async (mode) => {
      const { result } = await run(mode);
      for (const device of ['c1', 'c2'])
        expect(readersOf(result, 'm13 a1').has(device)).toBe(false);
    },
  );

  it('epoch: members keep the keys of the epochs they belonged to', async () => {
    const { result } = await run('epoch');
    const m3 = result.messages.find((m) => m.step === stepOf('m3 a1'));
    expect([...(m3?.finalReaders ?? [])].sort()).toEqual(['a1', 'a2', 'b1', 'c1']);
  });

  it('forward-secret: no key store holds any message key once its message is decrypted', async () => {
    const { result } = await run('forward-secret');
    expect(result.keptAfterDecrypt).toEqual([]);
    expect(result.forwardSecretSessions.size).toBe(result.messages.length);
    for (const device of result.devices.values()) {
      const held = [...device.store.sessionIds()].filter((id) =>
        result.forwardSecretSessions.has(id),
      );
      expect(held).toEqual([]);
    }
    for (const m of result.messages) expect(m.finalReaders.size).toBe(0);
  });

  it('reports the cost of every rekey: one Olm encryption and one to-device message per key per device', async () => {
    const { result } = await run('epoch');
    expect(result.rekeyCosts.length).toBeGreaterThan(5);
    for (const cost of result.rekeyCosts) {
      expect(cost.toDeviceMessages).toBe(cost.olmEncryptions);
      expect(cost.withheld).toBe(0);
    }
  });
});
