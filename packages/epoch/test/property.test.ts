/**
 * Property: for random membership / device / message / policy sequences, the engine lets exactly
 * the oracle's devices decrypt each message (real Megolm and Olm, see simulation.test.ts).
 */

import { type RoomPolicy, ratchetMegolm } from '@weft/epoch';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

import { libolmMegolm, loadLibOlm } from './libolm.ts';
import { DEVICE_OWNER, expectedReaders, type SimEvent } from './oracle.ts';
import { type MegolmChoice, simulate } from './simulation.ts';

let megolm: MegolmChoice;
beforeAll(async () => {
  const libolm = libolmMegolm(await loadLibOlm());
  // Weft's Megolm for alice's and carol's devices, libolm's for the others.
  megolm = (device) => (/^[ac]/.test(device) ? ratchetMegolm : libolm);
});

const devices = Object.keys(DEVICE_OWNER);
/** Senders lean towards the prelude's devices so most sequences carry many messages. */
const senders = fc.constantFrom('a1', 'a1', 'a2', 'b1', 'b1', ...devices);
const users = [...new Set(Object.values(DEVICE_OWNER))];

const policyArb: fc.Arbitrary<RoomPolicy> = fc
  .record({
    mode: fc.constantFrom('shared', 'epoch', 'forward-secret' as const),
    rotateAfterMessages: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    rotateAfterMs: fc.option(fc.integer({ min: 5, max: 20 }), { nil: undefined }),
  })
  .map(({ mode, rotateAfterMessages, rotateAfterMs }) => ({
    mode,
    ...(rotateAfterMessages === undefined ? {} : { rotateAfterMessages }),
    ...(rotateAfterMs === undefined ? {} : { rotateAfterMs }),
  }));

const eventArb: fc.Arbitrary<SimEvent> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('member' as const),
      user: fc.constantFrom(...users),
      membership: fc.constantFrom('invite', 'join', 'join', 'join', 'leave', 'ban' as const),
      rekey: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('add-device' as const),
      device: fc.constantFrom(...devices),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('remove-device' as const),
      device: fc.constantFrom(...devices),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('block' as const),
      device: fc.constantFrom(...devices),
      blocked: fc.boolean(),
    }),
  },
  { weight: 7, arbitrary: fc.record({ kind: fc.constant('send' as const), device: senders }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('share' as const), device: senders }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rekey' as const), device: senders }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('policy' as const), policy: policyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: 1, max: 15 }),
    }),
  },
);

/** Everyone starts joined with one device, so random tails have senders and readers. */
const prelude: SimEvent[] = [
  { kind: 'member', user: '@alice:weft.test', membership: 'join' },
  { kind: 'add-device', device: 'a1' },
  { kind: 'member', user: '@bob:weft.test', membership: 'join' },
  { kind: 'add-device', device: 'b1' },
  { kind: 'add-device', device: 'a2' },
  { kind: 'member', user: '@carol:weft.test', membership: 'invite' },
  { kind: 'add-device', device: 'c1' },
];

/** Renames session identifiers to first-appearance numbers, so two partitions compare. */
function partition(ids: readonly (string | number)[]): number[] {
  const seen = new Map<string | number, number>();
  return ids.map((id) => {
    if (!seen.has(id)) seen.set(id, seen.size);
    return seen.get(id) ?? -1;
  });
}

describe('RoomEncryptor against the oracle (fast-check)', () => {
  it('any sequence: decryptable-by sets equal the oracle’s, during and after the run', async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(eventArb, { minLength: 8, maxLength: 26 }),
        async (policy, tail) => {
          const events = [...prelude, ...tail];
          const result = await simulate(events, policy, megolm);
          const expected = expectedReaders(events, policy);
          const observed = result.messages.map((m) => ({
            step: m.step,
            readers: [...new Set([...m.liveReaders, ...m.finalReaders])].sort(),
            finalReaders: [...m.finalReaders].sort(),
          }));
          expect(observed).toEqual(
            expected.map((m) => ({
              step: m.step,
              readers: [...m.readers].sort(),
              finalReaders: [...m.finalReaders].sort(),
            })),
          );
          expect(result.keptAfterDecrypt).toEqual([]);
          // Same partition of messages into Megolm sessions as the policy definitions give.
          expect(partition(result.messages.map((m) => m.sessionId))).toEqual(
            partition(expected.map((m) => m.session)),
          );
        },
      ),
      { numRuns: 40 },
    );
  });
});
