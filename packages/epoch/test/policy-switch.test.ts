/**
 * Switching a room's policy mid-life takes effect from the next message: `setPolicy` on every
 * device (as each would on seeing the new `m.room.encryption` state), then the next message is
 * in a new session under the new rules.
 */

import { type PolicyMode, ratchetMegolm } from '@weft/epoch';
import { beforeAll, describe, expect, it } from 'vitest';

import { libolmMegolm, loadLibOlm } from './libolm.ts';
import { expectedReaders, type SimEvent } from './oracle.ts';
import { type MegolmChoice, simulate } from './simulation.ts';

let megolm: MegolmChoice;
beforeAll(async () => {
  const libolm = libolmMegolm(await loadLibOlm());
  // Weft's Megolm for alice's and carol's devices, libolm's for the others.
  megolm = (device) => (/^[ac]/.test(device) ? ratchetMegolm : libolm);
});

const alice = '@alice:weft.test';
const bob = '@bob:weft.test';
const carol = '@carol:weft.test';

function story(to: PolicyMode): SimEvent[] {
  return [
    { kind: 'member', user: alice, membership: 'join' },
    { kind: 'add-device', device: 'a1' },
    { kind: 'member', user: bob, membership: 'join' },
    { kind: 'add-device', device: 'b1' },
    { kind: 'send', device: 'a1' }, // 4: before the switch
    { kind: 'policy', policy: { mode: to } },
    { kind: 'send', device: 'a1' }, // 6: first message after the switch
    { kind: 'member', user: bob, membership: 'leave' },
    { kind: 'send', device: 'a1' }, // 8: after bob's departure
    { kind: 'member', user: carol, membership: 'join' },
    { kind: 'add-device', device: 'c1' },
    { kind: 'send', device: 'a1' }, // 11: after carol's arrival
  ];
}

describe('RoomEncryptor.setPolicy', () => {
  it('shared → epoch: from the next message, a departed member reads nothing new and a newcomer no history', async () => {
    const events = story('epoch');
    const result = await simulate(events, { mode: 'shared' }, megolm);
    const [before, first, afterLeave, afterJoin] = result.messages;
    // The switch itself starts a new session, even with no membership change in between.
    expect(first?.sessionId).not.toBe(before?.sessionId);
    expect([...(afterLeave?.liveReaders ?? [])].sort()).toEqual(['a1']);
    expect(afterLeave?.finalReaders.has('b1')).toBe(false);
    // Under epoch, carol gets neither the shared-era session nor the epoch sessions before her.
    for (const m of [before, first, afterLeave]) expect(m?.finalReaders.has('c1')).toBe(false);
    expect(afterJoin?.finalReaders.has('c1')).toBe(true);
    expect(result.messages.map((m) => [...m.finalReaders].sort())).toEqual(
      expectedReaders(events, { mode: 'shared' }).map((m) => [...m.finalReaders].sort()),
    );
  });

  it('shared stays shared: the same story without the switch lets carol read all of it, bob too', async () => {
    const events = story('shared');
    const result = await simulate(events, { mode: 'shared' }, megolm);
    const [before, first, afterLeave, afterJoin] = result.messages;
    expect(first?.sessionId).toBe(before?.sessionId);
    for (const m of [before, first, afterLeave, afterJoin])
      expect(m?.finalReaders.has('c1')).toBe(true);
    // The price of shared: bob keeps the session and reads what is sent after he left.
    expect(afterLeave?.finalReaders.has('b1')).toBe(true);
  });

  it('epoch → forward-secret: from the next message keys are single-use, earlier epochs stay readable', async () => {
    const events = story('forward-secret');
    const result = await simulate(events, { mode: 'epoch' }, megolm);
    const [before, first, afterLeave, afterJoin] = result.messages;
    expect([...(before?.finalReaders ?? [])].sort()).toEqual(['a1', 'b1']);
    for (const m of [first, afterLeave, afterJoin]) expect(m?.finalReaders.size).toBe(0);
    expect([...(first?.liveReaders ?? [])]).toEqual(['b1']);
    expect([...(afterJoin?.liveReaders ?? [])]).toEqual(['c1']);
  });
});
