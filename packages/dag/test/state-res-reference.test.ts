/**
 * Differential test of resolveState (src/state-res/*) against a direct, unoptimised transcription
 * of the spec's algorithm (rooms/fragments/v2-state-res.md; rooms/v12.md for v2.1) written here
 * with plain strings, sets and copies: no integer indices, no layering, no memoisation, quadratic
 * where the spec's wording is. Random forked rooms must resolve identically under both.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  authEventsSelection,
  checkAuth,
  type DagEvent,
  isPowerEvent,
  powerLevelOf,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  resolveState,
  type StateKey,
  type StateMap,
  stateKeyOf,
} from '../src/index.ts';
import { TestRoom } from './state-res-room.ts';

const CREATE = stateKeyOf('m.room.create', '');
const POWER = stateKeyOf('m.room.power_levels', '');

function keyOf(e: DagEvent): StateKey {
  return stateKeyOf(e.type, e.state_key ?? '');
}

/** The reference: the spec's definitions and steps, read literally. */
function referenceResolve(
  rules: RoomVersionRules,
  sets: readonly StateMap[],
  byId: ReadonlyMap<string, DagEvent>,
): Map<StateKey, string> {
  const get = (id: string) => byId.get(id);
  // Unconflicted state map and conflicted state set.
  const keys = new Set(sets.flatMap((s) => [...s.keys()]));
  const unconflicted = new Map<StateKey, string>();
  const conflicted = new Set<string>();
  for (const key of keys) {
    const values = sets.map((s) => s.get(key));
    const first = values[0];
    if (first !== undefined && values.every((v) => v === first)) unconflicted.set(key, first);
    else for (const v of values) if (v !== undefined) conflicted.add(v);
  }
  if (conflicted.size === 0) return unconflicted;
  // Auth chain (with the starting events: a state set's full chain includes its own events).
  const chainWithSelf = (ids: Iterable<string>): Set<string> => {
    const out = new Set<string>();
    const stack = [...ids];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (out.has(id)) continue;
      out.add(id);
      stack.push(...(get(id)?.auth_events ?? []));
    }
    return out;
  };
  const strictChain = (id: string) => chainWithSelf(get(id)?.auth_events ?? []);
  // Auth difference.
  const chains = sets.map((s) => chainWithSelf(s.values()));
  const full = new Set<string>(conflicted);
  for (const chain of chains) {
    for (const id of chain) if (!chains.every((c) => c.has(id))) full.add(id);
  }
  // v2.1: conflicted state subgraph, every event on a path between two conflicted events.
  if (rules.stateResolution.considerConflictedStateSubgraph) {
    for (const v of chainWithSelf(conflicted)) {
      const below = [...conflicted].some((c) => strictChain(c).has(v));
      const reaches = [...conflicted].some((c) => c === v || strictChain(v).has(c));
      if (below && reaches) full.add(v);
    }
    for (const c of conflicted) {
      if ([...conflicted].some((d) => strictChain(c).has(d))) full.add(c);
    }
  }
  for (const id of [...full]) if (get(id) === undefined) full.delete(id);
  // Power level of the sender, looking at the event's auth events (and the room's creators).
  const senderPower = (e: DagEvent): number => {
    const state = new Map<StateKey, DagEvent>();
    for (const id of e.auth_events) {
      const a = get(id);
      if (a?.state_key !== undefined) state.set(keyOf(a), a);
    }
    if (rules.authorization.roomCreateEventIdAsRoomId && e.room_id !== undefined) {
      const create = get(`$${e.room_id.slice(1)}`);
      if (create !== undefined && !state.has(CREATE)) state.set(CREATE, create);
    }
    return powerLevelOf(e.sender, state, rules);
  };
  // Step 1: X and its reverse topological power ordering (Kahn, smallest candidate each step).
  const x = new Set<string>();
  for (const id of full) {
    const e = get(id) as DagEvent;
    if (!isPowerEvent(e)) continue;
    x.add(id);
    for (const a of strictChain(id)) if (full.has(a)) x.add(a);
  }
  const less = (a: DagEvent, b: DagEvent) => {
    const pa = senderPower(a);
    const pb = senderPower(b);
    if (pa !== pb) return pa > pb;
    if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts < b.origin_server_ts;
    return a.event_id < b.event_id;
  };
  const sortedX: string[] = [];
  const remaining = new Set(x);
  while (remaining.size > 0) {
    const ready = [...remaining].filter(
      (id) => ![...strictChain(id)].some((a) => remaining.has(a)),
    );
    let best = get(ready[0] as string) as DagEvent;
    for (const id of ready) if (less(get(id) as DagEvent, best)) best = get(id) as DagEvent;
    sortedX.push(best.event_id);
    remaining.delete(best.event_id);
  }
  // Iterative auth checks.
  const iterate = (start: Map<StateKey, string>, list: readonly string[]) => {
    const state = new Map(start);
    for (const id of list) {
      const e = get(id) as DagEvent;
      if (e.rejected === true || e.state_key === undefined) continue;
      const authState = new Map<StateKey, DagEvent>();
      for (const a of e.auth_events) {
        const ae = get(a);
        if (ae !== undefined && ae.rejected !== true && ae.state_key !== undefined) {
          authState.set(keyOf(ae), ae);
        }
      }
      for (const [type, stateKey] of authEventsSelection(e, rules)) {
        const current = state.get(stateKeyOf(type, stateKey));
        const ce = current === undefined ? undefined : get(current);
        if (ce !== undefined && ce.rejected !== true) authState.set(stateKeyOf(type, stateKey), ce);
      }
      if (rules.authorization.roomCreateEventIdAsRoomId && e.room_id !== undefined) {
        const create = get(`$${e.room_id.slice(1)}`);
        if (create !== undefined && !authState.has(CREATE)) authState.set(CREATE, create);
      }
      if (checkAuth(e, authState, rules).allowed) state.set(keyOf(e), id);
    }
    return state;
  };
  const empty = rules.stateResolution.beginIterativeAuthChecksWithEmptyState;
  const partial = iterate(empty ? new Map() : unconflicted, sortedX);
  // Step 3: mainline ordering of the rest.
  const plOf = (e: DagEvent): DagEvent | undefined =>
    e.auth_events
      .map(get)
      .find((a) => a !== undefined && a.type === 'm.room.power_levels' && a.state_key === '');
  const mainline: string[] = [];
  for (let p = get(partial.get(POWER) ?? ''); p !== undefined; p = plOf(p)) {
    mainline.push(p.event_id);
  }
  const position = (e: DagEvent): number => {
    for (let p = plOf(e); p !== undefined; p = plOf(p)) {
      const i = mainline.indexOf(p.event_id);
      if (i >= 0) return i;
    }
    return Number.POSITIVE_INFINITY;
  };
  const rest = [...full].filter((id) => !x.has(id)).map((id) => get(id) as DagEvent);
  rest.sort((a, b) => {
    const pa = position(a);
    const pb = position(b);
    if (pa !== pb) return pa > pb ? -1 : 1;
    if (a.origin_server_ts !== b.origin_server_ts) return a.origin_server_ts - b.origin_server_ts;
    return a.event_id < b.event_id ? -1 : 1;
  });
  // Step 4, step 5.
  const resolved = iterate(
    partial,
    rest.map((e) => e.event_id),
  );
  for (const [key, id] of unconflicted) resolved.set(key, id);
  return resolved;
}

const USERS = ['@alice:example.com', '@bob:example.com', '@carol:example.org'];
const step = fc.record({
  kind: fc.constantFrom('join', 'leave', 'topic', 'power', 'kick', 'ban', 'rules'),
  actor: fc.oneof(fc.constant(0), fc.nat({ max: USERS.length - 1 })),
  target: fc.nat({ max: USERS.length - 1 }),
  level: fc.constantFrom(0, 50, 100),
  fork: fc.nat({ max: 5 }),
  ts: fc.nat({ max: 3 }),
});

describe('resolveState against a literal transcription of the spec', () => {
  for (const rules of [ROOM_V10, ROOM_V11, ROOM_V12]) {
    it(`agrees on random forked rooms (room version ${rules.id})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 16 }), async (steps) => {
          const room = await TestRoom.create(rules);
          for (const s of steps) {
            const accepted = room.events.filter((e) => e.rejected !== true);
            const from = accepted[Math.max(0, accepted.length - s.fork)];
            const prev = s.fork === 0 || from === undefined ? undefined : [from.event_id];
            const actor = USERS[s.actor] as string;
            const target = USERS[s.target] as string;
            const common = { sender: actor, ts: 50 + s.ts, ...(prev ? { prev } : {}) };
            if (s.kind === 'join' || s.kind === 'leave') {
              await room.add({
                ...common,
                type: 'm.room.member',
                state_key: actor,
                content: { membership: s.kind },
              });
            } else if (s.kind === 'kick' || s.kind === 'ban') {
              const membership = s.kind === 'kick' ? 'leave' : 'ban';
              await room.add({
                ...common,
                type: 'm.room.member',
                state_key: target,
                content: { membership },
              });
            } else if (s.kind === 'power') {
              const users: Record<string, number> = { [target]: s.level };
              if (!rules.authorization.explicitlyPrivilegeRoomCreators)
                users[USERS[0] as string] = 100;
              await room.add({
                ...common,
                type: 'm.room.power_levels',
                state_key: '',
                content: { users },
              });
            } else if (s.kind === 'rules') {
              const rule = s.level === 0 ? 'public' : 'invite';
              await room.add({
                ...common,
                type: 'm.room.join_rules',
                state_key: '',
                content: { join_rule: rule },
              });
            } else {
              await room.add({
                ...common,
                type: 'm.room.topic',
                state_key: '',
                content: { topic: s.ts },
              });
            }
          }
          // Every state of the room at once: many conflicts, rejected events' states included.
          const sets = room.events.slice(-6).map((e) => room.stateAfter(e.event_id));
          // And a state reset: the latest state with its power levels and join rules put back to
          // the room's first ones (conflicted events with auth paths between them).
          const firsts = room.events.slice(0, 4);
          const reset = new Map(sets[sets.length - 1]);
          for (const e of firsts) reset.set(stateKeyOf(e.type, e.state_key ?? ''), e.event_id);
          sets.push(reset);
          const ours = await resolveState(rules, sets, room.fetch);
          const reference = referenceResolve(rules, sets, room.byId);
          expect(new Map([...ours].sort())).toEqual(new Map([...reference].sort()));
        }),
        { numRuns: 40 },
      );
    });
  }
});
