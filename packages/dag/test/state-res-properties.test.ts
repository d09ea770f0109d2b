/**
 * Properties of resolveState (src/state-res/resolve.ts) over random rooms built with fast-check:
 * the result does not depend on the order of the state sets or of the entries within them; the
 * auth-chain shortcut gives the same result as the built-in walk; an event rejected by the
 * authorization rules never enters a resolved state; arbitrary (even malformed) DAGs never make
 * it throw anything but a DagError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  authChain,
  createStateResolver,
  DagError,
  type DagEvent,
  eventFetcher,
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

const USERS = ['@alice:example.com', '@bob:example.com', '@carol:example.org', '@dan:example.net'];

const action = fc.record({
  kind: fc.constantFrom('join', 'leave', 'topic', 'power', 'kick', 'ban', 'rules', 'message'),
  // Alice (the creator) acts half the time, so most events pass the authorization rules.
  actor: fc.oneof(fc.constant(0), fc.nat({ max: USERS.length - 1 })),
  target: fc.nat({ max: USERS.length - 1 }),
  level: fc.constantFrom(0, 50, 100),
  /** 0: build on every forward extremity; n > 0: fork from the n-th latest accepted event. */
  fork: fc.nat({ max: 6 }),
  ts: fc.nat({ max: 5 }),
});
type Action = typeof action extends fc.Arbitrary<infer T> ? T : never;

/** Builds a room from random actions, forking the DAG where `fork` says so. */
async function buildRoom(rules: RoomVersionRules, actions: readonly Action[]): Promise<TestRoom> {
  const room = await TestRoom.create(rules);
  for (const a of actions) {
    const actor = USERS[a.actor] as string;
    const target = USERS[a.target] as string;
    const accepted = room.events.filter((e) => e.rejected !== true);
    const forkPoint = accepted[Math.max(0, accepted.length - a.fork)];
    const prev =
      a.fork === 0 || forkPoint === undefined ? [...room.extremities].sort() : [forkPoint.event_id];
    const common = { sender: actor, prev, ts: 100 + a.ts };
    switch (a.kind) {
      case 'join':
      case 'leave':
        await room.add({
          ...common,
          type: 'm.room.member',
          state_key: actor,
          content: { membership: a.kind },
        });
        break;
      case 'kick':
      case 'ban':
        await room.add({
          ...common,
          type: 'm.room.member',
          state_key: target,
          content: { membership: a.kind === 'kick' ? 'leave' : 'ban' },
        });
        break;
      case 'topic':
        await room.add({
          ...common,
          type: 'm.room.topic',
          state_key: '',
          content: { topic: a.ts },
        });
        break;
      case 'power': {
        const users: Record<string, number> = { [target]: a.level };
        if (!rules.authorization.explicitlyPrivilegeRoomCreators) {
          users['@alice:example.com'] = 100;
        }
        await room.add({
          ...common,
          type: 'm.room.power_levels',
          state_key: '',
          content: { users },
        });
        break;
      }
      case 'rules':
        await room.add({
          ...common,
          type: 'm.room.join_rules',
          state_key: '',
          content: { join_rule: a.level === 0 ? 'public' : 'invite' },
        });
        break;
      default:
        await room.add({ ...common, type: 'm.room.message', content: { body: 'hi' } });
    }
  }
  return room;
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed || 1;
  for (let i = out.length - 1; i > 0; i -= 1) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function sortedEntries(state: StateMap): [StateKey, string][] {
  return [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const VERSIONS = [ROOM_V10, ROOM_V11, ROOM_V12] as const;
const roomArbitrary = fc.record({
  version: fc.constantFrom(...VERSIONS),
  actions: fc.array(action, { minLength: 4, maxLength: 24 }),
  seed: fc.nat(),
});

describe('resolveState properties', () => {
  it('does not depend on the order of the state sets or of the entries within them', async () => {
    await fc.assert(
      fc.asyncProperty(roomArbitrary, async ({ version, actions, seed }) => {
        const room = await buildRoom(version, actions);
        const sets = [...room.extremities].sort().map((id) => room.stateAfter(id));
        if (sets.length < 2) return;
        const reference = await resolveState(version, sets, room.fetch);
        const permuted = shuffled(sets, seed).map((set) => new Map(shuffled([...set], seed + 1)));
        const events = shuffled(room.events, seed + 2);
        const again = await resolveState(version, permuted, eventFetcher(events));
        expect(sortedEntries(again)).toEqual(sortedEntries(reference));
      }),
      { numRuns: 25 },
    );
  });

  it('gives the same result with a caller-supplied authChainOf as with its own walk', async () => {
    await fc.assert(
      fc.asyncProperty(roomArbitrary, async ({ version, actions }) => {
        const room = await buildRoom(version, actions);
        const sets = [...room.extremities].sort().map((id) => room.stateAfter(id));
        const walked = await resolveState(version, sets, room.fetch);
        const supplied = await resolveState(version, sets, room.fetch, (ids) =>
          authChain(ids, room.fetch),
        );
        expect(sortedEntries(supplied)).toEqual(sortedEntries(walked));
      }),
      { numRuns: 20 },
    );
  });

  it('gives the same results from one long-lived resolver as from fresh resolutions', async () => {
    await fc.assert(
      fc.asyncProperty(roomArbitrary, async ({ version, actions, seed }) => {
        const room = await buildRoom(version, actions);
        const resolver = createStateResolver(version, room.fetch);
        const states = room.events.map((e) => room.stateAfter(e.event_id));
        // Several overlapping groups of states, resolved concurrently through the one resolver.
        const groups = [0, 1, 2, 3].map((g) => shuffled(states, seed + g).slice(0, 2 + g));
        const cached = await Promise.all(groups.map((group) => resolver.resolve(group)));
        for (const [g, group] of groups.entries()) {
          const fresh = await resolveState(version, group, room.fetch);
          expect(sortedEntries(cached[g] as StateMap)).toEqual(sortedEntries(fresh));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('never lets an event rejected by the authorization rules into a resolved state', async () => {
    let forgedChecks = 0;
    await fc.assert(
      fc.asyncProperty(roomArbitrary, async ({ version, actions }) => {
        const room = await buildRoom(version, actions);
        const extremityStates = [...room.extremities].sort().map((id) => room.stateAfter(id));
        for (const event of room.events) {
          if (event.rejected !== true || event.state_key === undefined) continue;
          // A server claims the rejected event as state: its key is then conflicted, and the
          // iterative auth checks must keep it out.
          const forged = new Map(extremityStates[0]);
          forged.set(stateKeyOf(event.type, event.state_key), event.event_id);
          const resolved = await resolveState(version, [...extremityStates, forged], room.fetch);
          expect([...resolved.values()]).not.toContain(event.event_id);
          forgedChecks += 1;
        }
      }),
      { numRuns: 25 },
    );
    // The generator must actually produce rejected state events for this to mean anything.
    expect(forgedChecks).toBeGreaterThan(10);
  });
});

// Arbitrary DAG-shaped input: random types and contents (including malformed power levels),
// auth_events that may point forward (cycles), at unknown events or at non-state events.
const TYPES = ['m.room.create', 'm.room.member', 'm.room.power_levels', 'm.room.join_rules', 'x'];
const junk = fc.oneof(
  fc.integer({ min: -200, max: 200 }),
  fc.string({ maxLength: 3 }),
  fc.constant(null),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.dictionary(fc.constantFrom(...USERS, 'bad'), fc.oneof(fc.integer(), fc.string())),
);
const rawEvent = fc.record({
  type: fc.constantFrom(...TYPES),
  sender: fc.constantFrom(...USERS, 'not-a-user'),
  stateKey: fc.option(fc.constantFrom('', ...USERS), { nil: undefined }),
  membership: fc.constantFrom('join', 'leave', 'ban', 'invite', 'knock', 'bogus'),
  junk,
  auth: fc.array(fc.nat({ max: 14 }), { maxLength: 4 }),
  prev: fc.array(fc.nat({ max: 14 }), { maxLength: 2 }),
  ts: fc.integer({ min: -5, max: 5 }),
  rejected: fc.boolean(),
  roomId: fc.constantFrom('!room:example.com', '!0000', '!other:example.com'),
});

describe('resolveState on arbitrary DAGs', () => {
  for (const rules of VERSIONS) {
    it(`throws nothing but DagError (room version ${rules.id})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(rawEvent, { minLength: 1, maxLength: 15 }),
          fc.array(fc.array(fc.nat({ max: 20 }), { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
          async (raw, setPicks) => {
            const events: DagEvent[] = raw.map((r, i) => ({
              event_id: `$${String(i).padStart(4, '0')}`,
              room_id: r.roomId,
              sender: r.sender,
              type: r.type,
              ...(r.stateKey === undefined ? {} : { state_key: r.stateKey }),
              content: {
                membership: r.membership,
                users: r.junk,
                users_default: r.junk,
                join_rule: r.junk,
                room_version: rules.id,
                additional_creators: r.junk,
              },
              auth_events: r.auth.map((a) => `$${String(a).padStart(4, '0')}`),
              prev_events: r.prev.map((p) => `$${String(p).padStart(4, '0')}`),
              depth: i,
              origin_server_ts: r.ts,
              ...(r.rejected ? { rejected: true } : {}),
            }));
            const sets = setPicks.map((picks) => {
              const set = new Map<StateKey, string>();
              for (const p of picks) {
                const e = events[p % events.length] as DagEvent;
                set.set(stateKeyOf(e.type, e.state_key ?? ''), e.event_id);
              }
              return set;
            });
            try {
              const resolved = await resolveState(rules, sets, eventFetcher(events));
              expect(resolved).toBeInstanceOf(Map);
            } catch (error) {
              expect(DagError.isInstance(error)).toBe(true);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});
