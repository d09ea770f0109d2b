/**
 * resolveState (src/state-res/resolve.ts) on a mid-sized room of the benchmark's shape
 * (bench/hq-room.ts): two forks that change disjoint keys must merge to the union of their
 * changes, whatever the order of the state sets, with or without a caller-supplied auth chain.
 */
import { describe, expect, it } from 'vitest';

import { buildHqRoom, forkHqRoom } from '../bench/hq-room.ts';
import { authChain, eventFetcher, ROOM_V11, ROOM_V12, resolveState } from '../src/index.ts';

describe('resolveState on a forked Matrix-HQ-shaped room', () => {
  for (const rules of [ROOM_V11, ROOM_V12]) {
    it(`merges disjoint changes of both forks (room version ${rules.id})`, async () => {
      const room = buildHqRoom(rules, 800);
      const fork = forkHqRoom(room, 400);
      const fetch = eventFetcher([...room.events, ...fork.events]);
      const expected = new Map(room.state);
      for (const side of [fork.stateA, fork.stateB]) {
        for (const [key, id] of side) if (room.state.get(key) !== id) expected.set(key, id);
      }
      // Every fork event changed some key; the forks changed different keys.
      expect(expected.size).toBe(room.state.size);
      const resolved = await resolveState(rules, [fork.stateA, fork.stateB], fetch);
      expect(resolved).toEqual(expected);
      expect(await resolveState(rules, [fork.stateB, fork.stateA], fetch)).toEqual(expected);
      const withChains = await resolveState(rules, [fork.stateA, fork.stateB], fetch, (ids) =>
        authChain(ids, fetch),
      );
      expect(withChains).toEqual(expected);
    });
  }
});
