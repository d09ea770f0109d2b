/**
 * Step 1 of state resolution as Synapse (`synapse/state/v2.py`, `_is_power_event` and
 * `_add_event_and_auth_chain_to_graph`) and Ruma (`ruma-state-res`, `is_power_event` and
 * `add_event_and_auth_chain_to_graph`) compute it, so Weft agrees with them on every fork:
 *
 * - power levels and join rules are power events only with `state_key` "";
 * - X is the power events of the full conflicted set plus what they reach through `auth_events`
 *   edges that stay inside the full conflicted set, and the reverse topological power ordering
 *   sees only those edges (a path through an event outside the set constrains nothing).
 *
 * Each DAG below is built by hand (events citing exactly the auth events named) so that the two
 * readings of the spec give different resolved states.
 */
import { describe, expect, it } from 'vitest';

import {
  type DagEvent,
  eventFetcher,
  isPowerEvent,
  ROOM_V10,
  resolveState,
  type StateKey,
  stateKeyOf,
} from '../src/index.ts';

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';
const CAROL = '@carol:example.com';
const ROOM = '!room:example.com';

function event(
  id: string,
  type: string,
  sender: string,
  stateKey: string,
  content: Record<string, unknown>,
  auth: readonly string[],
  ts: number,
): DagEvent {
  return {
    event_id: id,
    room_id: ROOM,
    sender,
    type,
    state_key: stateKey,
    content,
    prev_events: [],
    auth_events: [...auth],
    depth: 1,
    origin_server_ts: ts,
  };
}

function stateOf(events: readonly DagEvent[]): Map<StateKey, string> {
  const state = new Map<StateKey, string>();
  for (const e of events) state.set(stateKeyOf(e.type, e.state_key as string), e.event_id);
  return state;
}

/** Resolves both ways round (the result must not depend on the order of the sets). */
async function resolveBoth(
  events: readonly DagEvent[],
  a: readonly DagEvent[],
  b: readonly DagEvent[],
): Promise<Map<StateKey, string>> {
  const fetch = eventFetcher(events);
  const forward = await resolveState(ROOM_V10, [stateOf(a), stateOf(b)], fetch);
  const backward = await resolveState(ROOM_V10, [stateOf(b), stateOf(a)], fetch);
  expect(backward).toEqual(forward);
  return forward;
}

const create = event('$create', 'm.room.create', ALICE, '', { creator: ALICE }, [], 1);
const aliceJoin = event(
  '$alice',
  'm.room.member',
  ALICE,
  ALICE,
  { membership: 'join' },
  ['$create'],
  2,
);

describe('power events (Synapse _is_power_event, Ruma is_power_event)', () => {
  it('counts power levels and join rules only with an empty state key, and the create event', () => {
    const pl = (stateKey: string) => event('$p', 'm.room.power_levels', ALICE, stateKey, {}, [], 0);
    const jr = (stateKey: string) =>
      event('$j', 'm.room.join_rules', ALICE, stateKey, { join_rule: 'public' }, [], 0);
    expect(isPowerEvent(pl(''))).toBe(true);
    expect(isPowerEvent(pl('x'))).toBe(false);
    expect(isPowerEvent(jr(''))).toBe(true);
    expect(isPowerEvent(jr('x'))).toBe(false);
    expect(isPowerEvent(create)).toBe(true);
    expect(isPowerEvent({ ...create, state_key: 'x' })).toBe(false);
  });

  it('resolves conflicting m.room.power_levels events with state_key "x" by mainline order', async () => {
    // Bob (150) outranks Alice (100); both may send power_levels (level 100). As power events the
    // higher-powered Bob's would be applied first and Alice's would win; as ordinary state they
    // are mainline-ordered (same position), so the later timestamp, Bob's, wins.
    const pl = event(
      '$pl',
      'm.room.power_levels',
      ALICE,
      '',
      { users: { [ALICE]: 100, [BOB]: 150 }, events: { 'm.room.power_levels': 100 } },
      ['$create', '$alice'],
      3,
    );
    const rules = event(
      '$jr',
      'm.room.join_rules',
      ALICE,
      '',
      { join_rule: 'public' },
      ['$create', '$alice', '$pl'],
      4,
    );
    const bobJoin = event(
      '$bob',
      'm.room.member',
      BOB,
      BOB,
      { membership: 'join' },
      ['$create', '$pl', '$jr'],
      5,
    );
    const content = pl.content;
    const byAlice = event(
      '$x-alice',
      'm.room.power_levels',
      ALICE,
      'x',
      content,
      ['$create', '$pl', '$alice'],
      1,
    );
    const byBob = event(
      '$x-bob',
      'm.room.power_levels',
      BOB,
      'x',
      content,
      ['$create', '$pl', '$bob'],
      2,
    );
    const base = [create, aliceJoin, pl, rules, bobJoin];
    const resolved = await resolveBoth(
      [...base, byAlice, byBob],
      [...base, byAlice],
      [...base, byBob],
    );
    expect(resolved.get(stateKeyOf('m.room.power_levels', 'x'))).toBe(byBob.event_id);
    expect(resolved.get(stateKeyOf('m.room.power_levels', ''))).toBe(pl.event_id);
  });
});

describe('step 1 follows only auth edges inside the full conflicted set', () => {
  it('does not pull a conflicted join into X through an unconflicted power-levels event', async () => {
    const pl1 = event(
      '$pl1',
      'm.room.power_levels',
      ALICE,
      '',
      { users: { [ALICE]: 100, [BOB]: 100 } },
      ['$create', '$alice'],
      3,
    );
    const rules = event(
      '$jr',
      'm.room.join_rules',
      ALICE,
      '',
      { join_rule: 'public' },
      ['$create', '$alice', '$pl1'],
      4,
    );
    const carolJoin = event(
      '$carol',
      'm.room.member',
      CAROL,
      CAROL,
      { membership: 'join' },
      ['$create', '$pl1', '$jr'],
      5,
    );
    // Bob's join J_B (conflicted) and his own leave (conflicted, same mainline position, earlier
    // timestamp).
    const bobJoin = event(
      '$bob-join',
      'm.room.member',
      BOB,
      BOB,
      { membership: 'join' },
      ['$create', '$pl1', '$jr'],
      10,
    );
    const bobLeave = event(
      '$bob-leave',
      'm.room.member',
      BOB,
      BOB,
      { membership: 'leave' },
      ['$create', '$pl1', '$bob-join'],
      9,
    );
    // P2: Bob's power levels, unconflicted (in both sets), citing J_B.
    const pl2 = event(
      '$pl2',
      'm.room.power_levels',
      BOB,
      '',
      { users: { [ALICE]: 100, [BOB]: 100 }, kick: 40 },
      ['$create', '$pl1', '$bob-join'],
      11,
    );
    // K: Alice kicks Carol (a power event of the full conflicted set), citing P2.
    const kick = event(
      '$kick',
      'm.room.member',
      ALICE,
      CAROL,
      { membership: 'leave' },
      ['$create', '$pl2', '$alice', '$carol'],
      12,
    );
    const base = [create, aliceJoin, pl2, rules];
    const all = [create, aliceJoin, pl1, rules, carolJoin, bobJoin, bobLeave, pl2, kick];
    const resolved = await resolveBoth(
      all,
      [...base, bobJoin, kick],
      [...base, bobLeave, carolJoin],
    );
    // X = {K, Carol's join} (K cites it directly); P2 is outside the full conflicted set, so the
    // walk stops there and J_B is left to step 3. There J_B and the leave share mainline position
    // (both cite PL1): the leave (earlier) is applied first, then the join, which wins. Taking
    // J_B into X through P2 would apply it in step 2 and let the leave win in step 3.
    expect(resolved.get(stateKeyOf('m.room.member', BOB))).toBe(bobJoin.event_id);
    expect(resolved.get(stateKeyOf('m.room.member', CAROL))).toBe(kick.event_id);
    expect(resolved.get(stateKeyOf('m.room.power_levels', ''))).toBe(pl2.event_id);
  });

  it('lets no path through an event outside the set (x → y → z) order z before x', async () => {
    const pl = event(
      '$pl',
      'm.room.power_levels',
      ALICE,
      '',
      { users: { [ALICE]: 100, [BOB]: 150 } },
      ['$create', '$alice'],
      3,
    );
    // z: Alice's public join rules; y: Bob's join citing z (unconflicted); x: Bob's invite-only
    // join rules citing y. The sets disagree on the join rules only: {x, z} is the full
    // conflicted set and y is outside it.
    const z = event(
      '$z',
      'm.room.join_rules',
      ALICE,
      '',
      { join_rule: 'public' },
      ['$create', '$alice', '$pl'],
      4,
    );
    const y = event(
      '$y',
      'm.room.member',
      BOB,
      BOB,
      { membership: 'join' },
      ['$create', '$pl', '$z'],
      5,
    );
    const x = event(
      '$x',
      'm.room.join_rules',
      BOB,
      '',
      { join_rule: 'invite' },
      ['$create', '$pl', '$y'],
      6,
    );
    const base = [create, aliceJoin, pl, y];
    const resolved = await resolveBoth([...base, z, x], [...base, x], [...base, z]);
    // No edge between x and z: Bob's (150) x sorts before Alice's (100) z, so z is applied last
    // and wins. Ordering through y would put z first and let x win.
    expect(resolved.get(stateKeyOf('m.room.join_rules', ''))).toBe(z.event_id);
  });
});
