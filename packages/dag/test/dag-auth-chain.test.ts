/**
 * Auth chains and the auth chain difference (src/dag/auth-chain.ts, src/dag/auth-walk.ts),
 * checked against a naive set computation over random auth DAGs, plus the conflicted state
 * subgraph of rooms/v12.md.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { conflictedSubgraphIndexed } from '../src/dag/auth-walk.ts';
import { EventIndex } from '../src/dag/event-index.ts';
import {
  authChain,
  authChainDifference,
  DagError,
  type DagEvent,
  eventFetcher,
} from '../src/index.ts';

function event(id: string, auth: readonly string[]): DagEvent {
  return {
    event_id: id,
    room_id: '!r:example.com',
    sender: '@a:example.com',
    type: 'm.room.member',
    state_key: `@${id}:example.com`,
    content: { membership: 'join' },
    prev_events: [],
    auth_events: auth,
    depth: 1,
    origin_server_ts: 0,
  };
}

/** Events e0…en-1 whose auth events point only at lower indices (so the graph is acyclic). */
const authDag = fc
  .array(fc.array(fc.nat(), { maxLength: 4 }), { minLength: 1, maxLength: 40 })
  .map((lists) =>
    lists.map((picks, i) =>
      event(`$e${i}`, i === 0 ? [] : [...new Set(picks.map((p) => `$e${p % i}`))]),
    ),
  );

function naiveChain(byId: Map<string, DagEvent>, ids: readonly string[], includeSelf: boolean) {
  const out = new Set<string>();
  const stack = includeSelf ? [...ids] : ids.flatMap((id) => byId.get(id)?.auth_events ?? []);
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (out.has(id)) continue;
    out.add(id);
    stack.push(...(byId.get(id)?.auth_events ?? []));
  }
  return out;
}

describe('authChain', () => {
  it('is every event reachable through auth_events, without the starting events', async () => {
    const events = [event('$a', []), event('$b', ['$a']), event('$c', ['$b']), event('$d', [])];
    const chain = await authChain(['$c'], eventFetcher(events));
    expect([...chain].sort()).toEqual(['$a', '$b']);
    expect(await authChain(['$c', '$b'], eventFetcher(events))).toEqual(new Set(['$a', '$b']));
  });

  it('matches a naive walk on random auth DAGs', async () => {
    await fc.assert(
      fc.asyncProperty(authDag, fc.array(fc.nat(), { maxLength: 5 }), async (events, picks) => {
        const ids = picks.map((p) => (events[p % events.length] as DagEvent).event_id);
        const byId = new Map(events.map((e) => [e.event_id, e]));
        const chain = await authChain(ids, eventFetcher(events));
        expect(chain).toEqual(naiveChain(byId, ids, false));
      }),
      { numRuns: 100 },
    );
  });

  it('stops at events the store does not have', async () => {
    const events = [event('$b', ['$gone']), event('$c', ['$b'])];
    expect([...(await authChain(['$c'], eventFetcher(events)))].sort()).toEqual(['$b', '$gone']);
  });

  it('throws DagError cycle when auth_events form a cycle', async () => {
    const events = [event('$a', ['$c']), event('$b', ['$a']), event('$c', ['$b'])];
    const error = await authChain(['$c'], eventFetcher(events)).catch((e: unknown) => e);
    expect(DagError.isInstance(error) && error.code).toBe('cycle');
  });

  it('asks the store once per layer of the walk', async () => {
    const events = [
      event('$a', []),
      event('$b', ['$a']),
      event('$c', ['$a']),
      event('$d', ['$b', '$c']),
    ];
    const batches: string[][] = [];
    const inner = eventFetcher(events);
    await authChain(['$d'], (ids) => {
      batches.push([...ids].sort());
      return inner(ids);
    });
    expect(batches).toEqual([['$d'], ['$b', '$c'], ['$a']]);
  });

  it('rejects arguments of the wrong type', async () => {
    await expect(authChain(42 as never, eventFetcher([]))).rejects.toThrow(TypeError);
    await expect(authChain([1] as never, eventFetcher([]))).rejects.toThrow(TypeError);
    await expect(authChain([], null as never)).rejects.toThrow(TypeError);
  });
});

describe('authChainDifference', () => {
  it('is ∪ Cᵢ − ∩ Cᵢ with each set’s own events in its chain (random DAGs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        authDag,
        fc.array(fc.array(fc.nat(), { maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (events, setPicks) => {
          const byId = new Map(events.map((e) => [e.event_id, e]));
          const sets = setPicks.map((picks) =>
            picks.map((p) => (events[p % events.length] as DagEvent).event_id),
          );
          const chains = sets.map((ids) => naiveChain(byId, ids, true));
          const union = new Set(chains.flatMap((c) => [...c]));
          const expected = [...union].filter((id) => !chains.every((c) => c.has(id)));
          const difference = await authChainDifference(sets, eventFetcher(events));
          expect([...difference].sort()).toEqual(sets.length < 2 ? [] : expected.sort());
        },
      ),
      { numRuns: 100 },
    );
  });

  it('handles more state sets than one 32-bit word holds', async () => {
    // 40 sets; set i holds $ei, a chain $e0 ← $e1 ← … ← $e39. Every set's chain contains $e0,
    // only the last set's chain contains $e39.
    const events = Array.from({ length: 40 }, (_, i) =>
      event(`$e${i}`, i === 0 ? [] : [`$e${i - 1}`]),
    );
    const sets = events.map((e) => [e.event_id]);
    const difference = await authChainDifference(sets, eventFetcher(events));
    expect(difference.has('$e0')).toBe(false);
    expect(difference.size).toBe(39);
  });

  it('rejects arguments of the wrong type', async () => {
    await expect(authChainDifference('x' as never, eventFetcher([]))).rejects.toThrow(TypeError);
    await expect(authChainDifference([[1]] as never, eventFetcher([]))).rejects.toThrow(TypeError);
  });
});

describe('conflicted state subgraph (rooms/v12.md)', () => {
  it('holds exactly the events on auth paths between conflicted events', async () => {
    // $a → $b → $c → $d (auth edges), $b → $e, $e → $x; $a and $d are conflicted.
    const events = [
      event('$x', []),
      event('$d', ['$x']),
      event('$c', ['$d']),
      event('$e', ['$x']),
      event('$b', ['$c', '$e']),
      event('$a', ['$b']),
    ];
    const index = new EventIndex(eventFetcher(events));
    const conflicted = ['$a', '$d'].map((id) => index.intern(id));
    await index.loadAuthClosure(conflicted);
    const subgraph = conflictedSubgraphIndexed(index, conflicted).map((n) => index.ids[n]);
    expect(subgraph.sort()).toEqual(['$a', '$b', '$c', '$d']);
  });

  it('is empty when no conflicted event lies below another', async () => {
    const events = [event('$x', []), event('$a', ['$x']), event('$b', ['$x'])];
    const index = new EventIndex(eventFetcher(events));
    const conflicted = ['$a', '$b'].map((id) => index.intern(id));
    await index.loadAuthClosure(conflicted);
    expect(conflictedSubgraphIndexed(index, conflicted)).toEqual([]);
  });
});
