/**
 * The steps of state resolution (src/state-res/*), each shown by a small fork whose outcome
 * depends on that step (spec rooms/fragments/v2-state-res.md; rooms/v12.md for v2.1 and
 * creators' power).
 */
import { describe, expect, it } from 'vitest';

import {
  createStateResolver,
  DagError,
  type DagEvent,
  eventFetcher,
  isPowerEvent,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  resolveState,
  stateKeyOf,
} from '../src/index.ts';
import { TestRoom } from './state-res-room.ts';

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';
const TOPIC = stateKeyOf('m.room.topic', '');
const POWER = stateKeyOf('m.room.power_levels', '');

async function resolveForks(room: TestRoom, ...tips: string[]) {
  const sets = tips.map((id) => room.stateAfter(id));
  const forward = await resolveState(room.rules, sets, room.fetch);
  const backward = await resolveState(room.rules, [...sets].reverse(), room.fetch);
  expect(backward).toEqual(forward);
  return forward;
}

function member(id: string, sender: string, target: string, membership: string): DagEvent {
  return {
    event_id: id,
    room_id: '!r:example.com',
    sender,
    type: 'm.room.member',
    state_key: target,
    content: { membership },
    prev_events: [],
    auth_events: [],
    depth: 1,
    origin_server_ts: 0,
  };
}

describe('isPowerEvent (power events)', () => {
  it('covers power levels, join rules, kicks and bans, not leaves, joins or other state', () => {
    expect(
      isPowerEvent({
        ...member('$1', ALICE, ALICE, 'join'),
        type: 'm.room.power_levels',
        state_key: '',
      }),
    ).toBe(true);
    expect(
      isPowerEvent({
        ...member('$2', ALICE, ALICE, 'join'),
        type: 'm.room.join_rules',
        state_key: '',
      }),
    ).toBe(true);
    expect(isPowerEvent(member('$3', ALICE, BOB, 'leave'))).toBe(true);
    expect(isPowerEvent(member('$4', ALICE, BOB, 'ban'))).toBe(true);
    expect(isPowerEvent(member('$5', BOB, BOB, 'leave'))).toBe(false);
    expect(isPowerEvent(member('$6', ALICE, BOB, 'invite'))).toBe(false);
    expect(
      isPowerEvent({ ...member('$7', ALICE, ALICE, 'join'), type: 'm.room.topic', state_key: '' }),
    ).toBe(false);
    const { state_key: _, ...message } = member('$8', ALICE, ALICE, 'join');
    expect(isPowerEvent({ ...message, type: 'm.room.power_levels' })).toBe(false);
  });
});

describe('mainline ordering', () => {
  it('applies same-position events by origin_server_ts, so the later one wins', async () => {
    const room = await TestRoom.create(ROOM_V10);
    const base = [...room.extremities];
    const late = await room.setTopic(ALICE, 'late', { prev: base, ts: 200 });
    const early = await room.setTopic(ALICE, 'early', { prev: base, ts: 100 });
    const resolved = await resolveForks(room, late.event_id, early.event_id);
    expect(resolved.get(TOPIC)).toBe(late.event_id);
  });

  it('orders by mainline position before origin_server_ts', async () => {
    const room = await TestRoom.create(ROOM_V11);
    const base = [...room.extremities];
    // Fork A: a new power-levels event, then a topic citing it (early timestamp).
    const pl2 = await room.setPowerLevels(
      ALICE,
      { [ALICE]: 100, [BOB]: 10 },
      { prev: base, ts: 10 },
    );
    const topicA = await room.setTopic(ALICE, 'A', { prev: [pl2.event_id], ts: 11 });
    // Fork B: a topic citing the original power levels (late timestamp).
    const topicB = await room.setTopic(ALICE, 'B', { prev: base, ts: 999 });
    const resolved = await resolveForks(room, topicA.event_id, topicB.event_id);
    expect(resolved.get(POWER)).toBe(pl2.event_id);
    // topicB sits deeper on the mainline (position 1 vs 0), so it is applied first.
    expect(resolved.get(TOPIC)).toBe(topicA.event_id);
  });
});

describe('reverse topological power ordering', () => {
  it('applies the higher-powered sender’s power event first, so the lower one’s lands last', async () => {
    const room = await TestRoom.create(ROOM_V10);
    await room.join(BOB);
    const promote = await room.setPowerLevels(ALICE, { [ALICE]: 100, [BOB]: 50 });
    const base = [promote.event_id];
    // Alice (100) and Bob (50) both edit the power levels, in parallel; Alice's is later.
    const byAlice = await room.setPowerLevels(
      ALICE,
      { [ALICE]: 100, [BOB]: 50, '@carol:example.com': 10 },
      { prev: base, ts: 500 },
    );
    const byBob = await room.setPowerLevels(
      BOB,
      { [ALICE]: 100, [BOB]: 50, '@dan:example.com': 20 },
      { prev: base, ts: 400 },
    );
    expect(byAlice.rejected).toBeUndefined();
    expect(byBob.rejected).toBeUndefined();
    const resolved = await resolveForks(room, byAlice.event_id, byBob.event_id);
    expect(resolved.get(POWER)).toBe(byBob.event_id);
  });

  it('lets a demotion win over the demoted user’s concurrent power change', async () => {
    const room = await TestRoom.create(ROOM_V11);
    await room.join(BOB);
    const promote = await room.setPowerLevels(ALICE, { [ALICE]: 100, [BOB]: 50 });
    const base = [promote.event_id];
    const demote = await room.setPowerLevels(ALICE, { [ALICE]: 100 }, { prev: base, ts: 100 });
    const byBob = await room.setPowerLevels(
      BOB,
      { [ALICE]: 100, [BOB]: 50, '@dan:example.com': 20 },
      { prev: base, ts: 900 },
    );
    const resolved = await resolveForks(room, demote.event_id, byBob.event_id);
    expect(resolved.get(POWER)).toBe(demote.event_id);
  });

  it('ranks v12 room creators above every integer power level', async () => {
    // In v12 Alice (the creator) has infinite power and is not in `users`; Bob has 100.
    const room = await TestRoom.create(ROOM_V12);
    await room.join(BOB);
    const promote = await room.setPowerLevels(ALICE, { [BOB]: 100 });
    const base = [promote.event_id];
    const byAlice = await room.setPowerLevels(
      ALICE,
      { [BOB]: 100, '@carol:example.com': 10 },
      { prev: base, ts: 10 },
    );
    const byBob = await room.setPowerLevels(
      BOB,
      { [BOB]: 100, '@dan:example.com': 20 },
      { prev: base, ts: 900 },
    );
    expect(byAlice.rejected).toBeUndefined();
    expect(byBob.rejected).toBeUndefined();
    const resolved = await resolveForks(room, byAlice.event_id, byBob.event_id);
    // Alice sorts first (infinite power), Bob's change is applied last and is allowed.
    expect(resolved.get(POWER)).toBe(byBob.event_id);
  });
});

describe('iterative auth checks', () => {
  it('drops a conflicted event that the resolved power events no longer allow (ban vs topic)', async () => {
    for (const rules of [ROOM_V10, ROOM_V11, ROOM_V12]) {
      const room = await TestRoom.create(rules);
      await room.join(BOB);
      const users = rules.authorization.explicitlyPrivilegeRoomCreators
        ? { [BOB]: 50 }
        : { [ALICE]: 100, [BOB]: 50 };
      const promote = await room.add({
        type: 'm.room.power_levels',
        sender: ALICE,
        state_key: '',
        content: { users },
      });
      const base = [promote.event_id];
      const ban = await room.add({
        type: 'm.room.member',
        sender: ALICE,
        state_key: BOB,
        content: { membership: 'ban' },
        prev: base,
        ts: 1,
      });
      const topic = await room.setTopic(BOB, 'mine', { prev: base, ts: 2 });
      expect(topic.rejected).toBeUndefined();
      const resolved = await resolveForks(room, ban.event_id, topic.event_id);
      expect(resolved.get(stateKeyOf('m.room.member', BOB))).toBe(ban.event_id);
      expect(resolved.has(TOPIC)).toBe(false);
    }
  });
});

describe('conflicted state subgraph (v2.1, rooms/v12.md)', () => {
  // A state reset: one state has the power levels PL3 (by Bob, allowed by PL2, which cites PL1);
  // the other holds PL1 again, although it still contains Carol's join, which cites PL2. PL2 is
  // then in both full auth chains, so only the conflicted state subgraph (PL3 → PL2 → PL1)
  // brings it into the full conflicted set, and without it PL3 is judged against PL1.
  async function stateReset(rules: typeof ROOM_V11) {
    const carol = '@carol:example.org';
    const room = await TestRoom.create(rules);
    const creator = rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [ALICE]: 100 };
    const pl1 = [...room.events]
      .reverse()
      .find((e) => e.type === 'm.room.power_levels') as DagEvent;
    await room.join(BOB);
    await room.setPowerLevels(ALICE, { ...creator, [BOB]: 100 });
    const carolJoin = await room.join(carol);
    const pl3 = await room.setPowerLevels(BOB, { ...creator, [BOB]: 100, [carol]: 50 });
    expect(pl3.rejected).toBeUndefined();
    const withPl3 = room.stateAfter(pl3.event_id);
    const reset = new Map(withPl3).set(POWER, pl1.event_id);
    expect(reset.get(stateKeyOf('m.room.member', carol))).toBe(carolJoin.event_id);
    const resolved = await resolveState(rules, [withPl3, reset], room.fetch);
    const again = await resolveState(rules, [reset, withPl3], room.fetch);
    expect(again).toEqual(resolved);
    return { resolved, pl1: pl1.event_id, pl3: pl3.event_id };
  }

  it('keeps the later power levels in v12 (the subgraph brings PL2 back)', async () => {
    const { resolved, pl3 } = await stateReset(ROOM_V12);
    expect(resolved.get(POWER)).toBe(pl3);
  });

  it('resets to the earlier power levels in v11 (state resolution v2)', async () => {
    const { resolved, pl1 } = await stateReset(ROOM_V11);
    expect(resolved.get(POWER)).toBe(pl1);
  });
});

describe('third-party invites in the iterative auth checks', () => {
  it('re-checks their signatures with the verifier the caller passes', async () => {
    const carol = '@carol:example.org';
    const accept = { verifyThirdPartyInviteSignature: () => true };
    const room = await TestRoom.create(ROOM_V11, ALICE, accept);
    const invite3pid = await room.add({
      type: 'm.room.third_party_invite',
      sender: ALICE,
      state_key: 'tok',
      content: { display_name: 'c…', key_validity_url: 'https://id.example/v', public_key: 'AAAA' },
    });
    const base = [invite3pid.event_id];
    const signed = {
      mxid: carol,
      token: 'tok',
      signatures: { 'id.example': { 'ed25519:0': 'sig' } },
    };
    const invite = await room.add({
      type: 'm.room.member',
      sender: ALICE,
      state_key: carol,
      content: { membership: 'invite', third_party_invite: { display_name: 'c…', signed } },
      prev: base,
    });
    expect(invite.rejected).toBeUndefined();
    const topic = await room.setTopic(ALICE, 't', { prev: base });
    const sets = [room.stateAfter(invite.event_id), room.stateAfter(topic.event_id)];
    const carolKey = stateKeyOf('m.room.member', carol);
    const accepted = await resolveState(ROOM_V11, sets, room.fetch, undefined, accept);
    expect(accepted.get(carolKey)).toBe(invite.event_id);
    const refused = await resolveState(ROOM_V11, sets, room.fetch, undefined, {
      verifyThirdPartyInviteSignature: () => false,
    });
    expect(refused.has(carolKey)).toBe(false);
    // The default verifier checks real Ed25519 signatures: this fake one fails.
    expect((await resolveState(ROOM_V11, sets, room.fetch)).has(carolKey)).toBe(false);
  });
});

describe('resolveState storage access', () => {
  it('fetches in batches, one per layer of the auth walk, through an async store', async () => {
    const room = await TestRoom.create(ROOM_V11);
    for (let i = 0; i < 30; i += 1) {
      const user = `@u${i}:example.org`;
      await room.join(user);
    }
    const base = [...room.extremities];
    const a = await room.setTopic(ALICE, 'a', { prev: base, ts: 1 });
    const b = await room.setTopic(ALICE, 'b', { prev: base, ts: 2 });
    const sync = eventFetcher(room.events);
    let calls = 0;
    const resolved = await resolveState(
      ROOM_V11,
      [room.stateAfter(a.event_id), room.stateAfter(b.event_id)],
      async (ids) => {
        calls += 1;
        await new Promise((done) => setTimeout(done, 0));
        return sync(ids);
      },
    );
    expect(resolved.get(TOPIC)).toBe(b.event_id);
    // 36 state events whose auth chains are 4 layers deep: a handful of batches, not one per event.
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(8);
  });

  it('resolves three or more state sets', async () => {
    for (const rules of [ROOM_V10, ROOM_V12]) {
      const room = await TestRoom.create(rules);
      const base = [...room.extremities];
      const tips: string[] = [];
      for (const [i, topic] of ['x', 'y', 'z'].entries()) {
        const e = await room.add({
          type: 'm.room.topic',
          sender: ALICE,
          state_key: '',
          content: { topic },
          prev: base,
          ts: 10 - i,
        });
        tips.push(e.event_id);
      }
      const resolved = await resolveForks(room, ...tips);
      // Same mainline position: the largest origin_server_ts (the first, ts 10) is applied last.
      expect(resolved.get(TOPIC)).toBe(tips[0]);
    }
  });
});

describe('createStateResolver', () => {
  it('asks again for events the store did not have on an earlier call', async () => {
    const room = await TestRoom.create(ROOM_V11);
    const base = [...room.extremities];
    const a = await room.setTopic(ALICE, 'a', { prev: base, ts: 1 });
    const b = await room.setTopic(ALICE, 'b', { prev: base, ts: 2 });
    let hide = b.event_id;
    let calls = 0;
    const resolver = createStateResolver(ROOM_V11, (ids) => {
      calls += 1;
      return room.fetch(ids.filter((id) => id !== hide));
    });
    const sets = [room.stateAfter(a.event_id), room.stateAfter(b.event_id)];
    const error = await resolver.resolve(sets).catch((e: unknown) => e);
    expect(DagError.isInstance(error) && error.code).toBe('missing-event');
    hide = '';
    expect((await resolver.resolve(sets)).get(TOPIC)).toBe(b.event_id);
    // A third call needs nothing new from the store.
    const before = calls;
    expect((await resolver.resolve([...sets].reverse())).get(TOPIC)).toBe(b.event_id);
    expect(calls).toBe(before);
  });

  it('rejects arguments of the wrong type', async () => {
    expect(() => createStateResolver({} as never, eventFetcher([]))).toThrow(TypeError);
    expect(() => createStateResolver(ROOM_V11, 'x' as never)).toThrow(TypeError);
    const resolver = createStateResolver(ROOM_V11, eventFetcher([]));
    await expect(resolver.resolve('x' as never)).rejects.toThrow(TypeError);
  });
});

describe('resolveState inputs', () => {
  it('returns the only state set unchanged and an empty map for none', async () => {
    const room = await TestRoom.create(ROOM_V11);
    const tip = [...room.extremities][0] as string;
    expect(await resolveState(ROOM_V11, [room.stateAfter(tip)], room.fetch)).toEqual(
      room.stateAfter(tip),
    );
    expect(await resolveState(ROOM_V11, [], room.fetch)).toEqual(new Map());
  });

  it('throws DagError missing-event when a state set names an event the store lacks', async () => {
    const sets = [new Map([[POWER, '$a']]), new Map([[POWER, '$b']])];
    const error = await resolveState(ROOM_V10, sets, eventFetcher([])).catch((e: unknown) => e);
    expect(DagError.isInstance(error) && error.code).toBe('missing-event');
    expect(DagError.isInstance(error) && error.eventId).toBe('$a');
  });

  it('rejects arguments of the wrong type', async () => {
    const fetch = eventFetcher([]);
    await expect(resolveState({} as never, [], fetch)).rejects.toThrow(TypeError);
    await expect(resolveState(ROOM_V10, [{}] as never, fetch)).rejects.toThrow(TypeError);
    await expect(resolveState(ROOM_V10, [new Map([[1, 2]])] as never, fetch)).rejects.toThrow(
      TypeError,
    );
    await expect(resolveState(ROOM_V10, [], 'x' as never)).rejects.toThrow(TypeError);
    await expect(resolveState(ROOM_V10, [], fetch, 5 as never)).rejects.toThrow(TypeError);
    await expect(resolveState(ROOM_V10, [], fetch, undefined, 5 as never)).rejects.toThrow(
      TypeError,
    );
    const sets = [new Map([[POWER, '$a']]), new Map([[POWER, '$b']])];
    await expect(resolveState(ROOM_V10, sets, () => 7 as never)).rejects.toThrow(TypeError);
    const malformed = () => [{ event_id: '$a' }] as never;
    await expect(resolveState(ROOM_V10, sets, malformed)).rejects.toThrow(TypeError);
  });
});
