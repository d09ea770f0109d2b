/**
 * DAG utilities: forward extremities (src/dag/forward-extremities.ts), topological order
 * (src/dag/topological-order.ts), missing events (src/dag/missing-events.ts) and the state
 * before/after an event (src/dag/state-at-event.ts, rooms/fragments/v2-state-res.md).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  authChain,
  authChainDifference,
  DagError,
  type DagEvent,
  eventFetcher,
  forwardExtremities,
  missingEvents,
  ROOM_V11,
  stateAfterEvent,
  stateBeforeEvent,
  stateKeyOf,
  topologicalOrder,
  updateForwardExtremities,
} from '../src/index.ts';
import { TestRoom } from './state-res-room.ts';

function event(id: string, prev: readonly string[], extra: Partial<DagEvent> = {}): DagEvent {
  return {
    event_id: id,
    room_id: '!r:example.com',
    sender: '@a:example.com',
    type: 'm.room.message',
    content: {},
    prev_events: prev,
    auth_events: [],
    depth: 1,
    origin_server_ts: 0,
    ...extra,
  };
}

/** Random DAGs by prev_events: event i cites only events with lower indices. */
const prevDag = fc
  .array(fc.tuple(fc.array(fc.nat(), { maxLength: 3 }), fc.nat({ max: 3 })), {
    minLength: 1,
    maxLength: 40,
  })
  .map((rows) =>
    rows.map(([picks, ts], i) =>
      event(
        `$e${String(i).padStart(2, '0')}`,
        i === 0 ? [] : [...new Set(picks.map((p) => `$e${String(p % i).padStart(2, '0')}`))],
        {
          origin_server_ts: ts,
          depth: i,
        },
      ),
    ),
  );

describe('forwardExtremities', () => {
  it('lists the events no other event cites, sorted', () => {
    const events = [event('$a', []), event('$b', ['$a']), event('$c', ['$a']), event('$d', ['$b'])];
    expect(forwardExtremities(events)).toEqual(['$c', '$d']);
    expect(forwardExtremities([])).toEqual([]);
  });

  it('agrees with updateForwardExtremities applied event by event (random DAGs)', () => {
    fc.assert(
      fc.property(prevDag, (events) => {
        let extremities: string[] = [];
        for (const e of events) extremities = updateForwardExtremities(extremities, e);
        expect(extremities).toEqual(forwardExtremities(events));
      }),
    );
  });

  it('rejects arguments of the wrong type', () => {
    expect(() => forwardExtremities(3 as never)).toThrow(TypeError);
    expect(() => forwardExtremities([{}] as never)).toThrow(TypeError);
  });
});

describe('topologicalOrder', () => {
  it('puts every event after the events it cites, whatever the input order', () => {
    fc.assert(
      fc.property(prevDag, fc.nat(), (events, seed) => {
        const shuffled = [...events].sort(
          (a, b) =>
            ((a.event_id.charCodeAt(2) * seed) % 7) - ((b.event_id.charCodeAt(2) * seed) % 7),
        );
        const order = topologicalOrder(shuffled);
        const position = new Map(order.map((e, i) => [e.event_id, i]));
        expect(order).toHaveLength(events.length);
        for (const e of order) {
          for (const p of e.prev_events) {
            expect(position.get(p) as number).toBeLessThan(position.get(e.event_id) as number);
          }
        }
        // Deterministic: the same order as from the original list.
        expect(order.map((e) => e.event_id)).toEqual(
          topologicalOrder(events).map((e) => e.event_id),
        );
      }),
    );
  });

  it('breaks ties by depth, then origin_server_ts, then event_id', () => {
    const root = event('$r', [], { depth: 1 });
    const a = event('$a', ['$r'], { depth: 3, origin_server_ts: 0 });
    const b = event('$b', ['$r'], { depth: 2, origin_server_ts: 9 });
    const c = event('$c', ['$r'], { depth: 2, origin_server_ts: 5 });
    const d = event('$d', ['$r'], { depth: 2, origin_server_ts: 5 });
    expect(topologicalOrder([a, d, b, c, root]).map((e) => e.event_id)).toEqual([
      '$r',
      '$c',
      '$d',
      '$b',
      '$a',
    ]);
  });

  it('ignores prev events outside the list and keeps the first of duplicate IDs', () => {
    const order = topologicalOrder([
      event('$b', ['$elsewhere']),
      event('$b', []),
      event('$c', ['$b']),
    ]);
    expect(order.map((e) => e.event_id)).toEqual(['$b', '$c']);
    expect(order[0]?.prev_events).toEqual(['$elsewhere']);
  });

  it('throws DagError cycle on cyclic prev_events', () => {
    const events = [event('$a', ['$c']), event('$b', ['$a']), event('$c', ['$b']), event('$d', [])];
    let error: unknown;
    try {
      topologicalOrder(events);
    } catch (e) {
      error = e;
    }
    expect(DagError.isInstance(error) && error.code).toBe('cycle');
  });
});

describe('missingEvents', () => {
  it('names cited events that are neither in the batch nor known', () => {
    const batch = [
      event('$n1', ['$known', '$gap1'], { auth_events: ['$known', '$authgap'] }),
      event('$n2', ['$n1', '$gap1', '$gap0'], { auth_events: ['$n1'] }),
    ];
    expect(missingEvents(batch, (id) => id === '$known')).toEqual({
      prevEvents: ['$gap0', '$gap1'],
      authEvents: ['$authgap'],
    });
  });

  it('rejects arguments of the wrong type', () => {
    expect(() => missingEvents([], 'no' as never)).toThrow(TypeError);
    expect(() => missingEvents(null as never, () => true)).toThrow(TypeError);
  });
});

describe('stateBeforeEvent / stateAfterEvent', () => {
  it('follows the spec: empty, one prev state, or the resolution of several', async () => {
    const room = await TestRoom.create(ROOM_V11);
    const base = [...room.extremities];
    const x = await room.add({
      type: 'm.room.topic',
      sender: '@alice:example.com',
      state_key: '',
      content: { topic: 'x' },
      prev: base,
      ts: 50,
    });
    const y = await room.add({
      type: 'm.room.name',
      sender: '@alice:example.com',
      state_key: '',
      content: { name: 'y' },
      prev: base,
      ts: 60,
    });
    expect(await stateBeforeEvent(ROOM_V11, [], room.fetch)).toEqual(new Map());
    const one = await stateBeforeEvent(ROOM_V11, [room.stateAfter(x.event_id)], room.fetch);
    expect(one).toEqual(room.stateAfter(x.event_id));
    const merged = await stateBeforeEvent(
      ROOM_V11,
      [room.stateAfter(x.event_id), room.stateAfter(y.event_id)],
      room.fetch,
    );
    expect(merged.get(stateKeyOf('m.room.topic', ''))).toBe(x.event_id);
    expect(merged.get(stateKeyOf('m.room.name', ''))).toBe(y.event_id);
  });

  it('sets a state event’s key and leaves messages and rejected events out', () => {
    const before = new Map([[stateKeyOf('m.room.topic', ''), '$old']]);
    const topic = event('$t', [], { type: 'm.room.topic', state_key: '' });
    expect(stateAfterEvent(topic, before).get(stateKeyOf('m.room.topic', ''))).toBe('$t');
    expect(stateAfterEvent(event('$m', []), before)).toEqual(before);
    expect(stateAfterEvent({ ...topic, rejected: true }, before)).toEqual(before);
    expect(before.get(stateKeyOf('m.room.topic', ''))).toBe('$old');
  });

  it('rejects arguments of the wrong type', async () => {
    await expect(stateBeforeEvent(ROOM_V11, 'x' as never, eventFetcher([]))).rejects.toThrow(
      TypeError,
    );
  });
});

describe('DAG utilities on arbitrary graphs', () => {
  // Edges may point anywhere (cycles, self-references, unknown events).
  const arbitraryGraph = fc
    .array(
      fc.record({
        prev: fc.array(fc.nat({ max: 12 }), { maxLength: 3 }),
        auth: fc.array(fc.nat({ max: 12 }), { maxLength: 3 }),
        depth: fc.integer({ min: -3, max: 3 }),
      }),
      { minLength: 1, maxLength: 10 },
    )
    .map((rows) =>
      rows.map((r, i) =>
        event(
          `$g${i}`,
          r.prev.map((p) => `$g${p}`),
          {
            auth_events: r.auth.map((a) => `$g${a}`),
            depth: r.depth,
          },
        ),
      ),
    );

  it('return a result or throw a DagError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryGraph, async (events) => {
        const fetch = eventFetcher(events);
        const ids = events.map((e) => e.event_id);
        const attempts: (() => unknown)[] = [
          () => topologicalOrder(events),
          () => forwardExtremities(events),
          () => missingEvents(events, () => false),
          () => authChain(ids, fetch),
          () => authChainDifference([ids.slice(0, 3), ids.slice(2)], fetch),
        ];
        for (const attempt of attempts) {
          try {
            await attempt();
          } catch (error) {
            expect(DagError.isInstance(error)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
