/**
 * Properties of the format checks and authorization rules over random input (fast-check):
 * checkPduFormat throws nothing but DagError for any JSON value; checkAuth never throws for an
 * event that passed the format checks, whatever the (format-checked) state, and returns a
 * well-formed verdict.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  checkAuth,
  checkPduFormat,
  DagError,
  type DagEvent,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  stateKeyOf,
} from '../src/index.ts';

const ALL_RULES = [ROOM_V10, ROOM_V11, ROOM_V12];

const users = fc.oneof(
  { arbitrary: fc.constantFrom('@alice:a.test', '@bob:b.test', '@carol:a.test'), weight: 8 },
  { arbitrary: fc.constantFrom('bad', '@x:'), weight: 1 },
);
const eventIds = fc.oneof(
  { arbitrary: fc.constantFrom('$create', '$pl', '$m1', '$m2', '$jr', '$x'), weight: 20 },
  { arbitrary: fc.constant('nope'), weight: 1 },
);
const json = fc.jsonValue({ maxDepth: 3 });
/** JSON without floats (which canonical JSON rejects), for values that should mostly pass. */
const { cjson } = fc.letrec((tie) => ({
  cjson: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.string({ maxLength: 6 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('cjson'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('cjson'), { maxKeys: 3 }),
  ),
}));
const level = fc.oneof(fc.integer({ min: -5, max: 200 }), cjson);

/** Content shaped like the auth-relevant events, with random junk mixed in. */
const content = fc.oneof(
  fc.record(
    {
      membership: fc.oneof(fc.constantFrom('join', 'invite', 'leave', 'ban', 'knock', 'x'), cjson),
      join_authorised_via_users_server: users,
      third_party_invite: fc.oneof(
        cjson,
        fc.record({ signed: fc.record({ mxid: users, token: fc.constantFrom('t', 'u') }) }),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      users: fc.oneof(fc.dictionary(users, level), cjson),
      users_default: level,
      state_default: level,
      events_default: level,
      ban: level,
      kick: level,
      invite: level,
      events: fc.oneof(
        fc.dictionary(fc.constantFrom('m.room.message', 'm.room.topic'), level),
        cjson,
      ),
      notifications: fc.oneof(fc.dictionary(fc.constant('room'), level), cjson),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      join_rule: fc.constantFrom('public', 'invite', 'knock', 'restricted', 'knock_restricted'),
      creator: users,
      room_version: fc.constantFrom('10', '11', '12', '99'),
      additional_creators: fc.oneof(fc.array(users, { maxLength: 3 }), cjson),
      'm.federate': fc.boolean(),
      public_key: fc.string(),
      redacts: eventIds,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.string({ maxLength: 8 }), cjson, { maxKeys: 4 }),
);

/** Mostly `valid`, sometimes any JSON value. */
function mostly<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: valid, weight: 40 }, { arbitrary: json, weight: 1 });
}

/** A PDU-like object: mostly well-formed keys, each sometimes replaced. */
const pduLike = fc.record(
  {
    event_id: mostly(eventIds),
    room_id: mostly(fc.constantFrom('!room:a.test', '!create', '!other:b.test')),
    sender: mostly(users),
    type: mostly(
      fc.constantFrom(
        'm.room.create',
        'm.room.member',
        'm.room.power_levels',
        'm.room.join_rules',
        'm.room.third_party_invite',
        'm.room.message',
        'm.room.redaction',
      ),
    ),
    state_key: mostly(fc.oneof(fc.constantFrom('', '@alice:a.test', '@bob:b.test', 't'), users)),
    content: mostly(content),
    prev_events: mostly(fc.array(eventIds, { maxLength: 3 })),
    auth_events: mostly(fc.array(eventIds, { maxLength: 4 })),
    depth: mostly(fc.nat()),
    origin_server_ts: mostly(fc.nat()),
    redacts: mostly(eventIds),
    hashes: mostly(fc.constant({ sha256: 'h' })),
    signatures: mostly(fc.constant({ 'a.test': { 'ed25519:0': 's' } })),
  },
  {
    requiredKeys: [
      'event_id',
      'room_id',
      'sender',
      'type',
      'content',
      'prev_events',
      'auth_events',
      'depth',
      'origin_server_ts',
      'hashes',
      'signatures',
    ],
  },
);

/** A create event and Alice's join, so that random events are sometimes allowed. */
function baseState(rules: RoomVersionRules): Map<string, DagEvent> {
  const v12 = rules.authorization.roomCreateEventIdAsRoomId;
  const roomId = v12 ? '!create' : '!room:a.test';
  const common = { prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1 };
  const create: DagEvent = {
    ...common,
    event_id: '$create',
    ...(v12 ? {} : { room_id: roomId }),
    sender: '@alice:a.test',
    type: 'm.room.create',
    state_key: '',
    content: { room_version: rules.id, creator: '@alice:a.test' },
  };
  const join: DagEvent = {
    ...common,
    event_id: '$m1',
    room_id: roomId,
    sender: '@alice:a.test',
    type: 'm.room.member',
    state_key: '@alice:a.test',
    content: { membership: 'join' },
  };
  return new Map([create, join].map((e) => [stateKeyOf(e.type, e.state_key ?? ''), e]));
}

/** The format-checked view, or `undefined` when the format check rejected it with a DagError. */
function formatChecked(pdu: unknown, ruleIndex: number): DagEvent | undefined {
  const rules = ALL_RULES[ruleIndex % ALL_RULES.length] ?? ROOM_V11;
  try {
    return checkPduFormat(pdu, rules);
  } catch (error) {
    if (DagError.isInstance(error)) return undefined;
    throw error;
  }
}

describe('checkPduFormat over random input', () => {
  it('throws nothing but DagError for any JSON value', () => {
    fc.assert(
      fc.property(fc.oneof(pduLike, json), fc.nat(), (pdu, i) => {
        formatChecked(pdu, i);
      }),
      { numRuns: 400 },
    );
  });
});

describe('checkAuth over random format-checked events and states', () => {
  it('never throws and returns a well-formed verdict', () => {
    let checked = 0;
    let allowed = 0;
    fc.assert(
      fc.property(
        pduLike,
        fc.array(pduLike, { maxLength: 8 }),
        fc.nat(),
        fc.boolean(),
        (candidate, stateCandidates, ruleIndex, withAuthEvents) => {
          const rules = ALL_RULES[ruleIndex % ALL_RULES.length] ?? ROOM_V11;
          const event = formatChecked(candidate, ruleIndex);
          if (event === undefined) return;
          const state = baseState(rules);
          const byId = new Map<string, DagEvent>([...state.values()].map((e) => [e.event_id, e]));
          for (const s of stateCandidates) {
            const e = formatChecked(s, ruleIndex);
            if (e === undefined || e.state_key === undefined) continue;
            state.set(stateKeyOf(e.type, e.state_key), e);
            byId.set(e.event_id, e);
          }
          const options = withAuthEvents ? { authEvent: (id: string) => byId.get(id) } : {};
          const outcome = checkAuth(event, state, rules, options);
          checked += 1;
          if (outcome.allowed) {
            allowed += 1;
            expect(outcome).toEqual({ allowed: true });
          } else {
            expect(typeof outcome.reason).toBe('string');
            expect(outcome.detail.length).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 400 },
    );
    // The generator must actually exercise checkAuth, on both verdicts.
    expect(checked).toBeGreaterThan(100);
    expect(allowed).toBeGreaterThan(0);
  });

  it('is deterministic: the same inputs give the same verdict', () => {
    fc.assert(
      fc.property(pduLike, fc.array(pduLike, { maxLength: 6 }), (candidate, stateCandidates) => {
        const event = formatChecked(candidate, 1);
        if (event === undefined) return;
        const state = new Map<string, DagEvent>();
        for (const s of stateCandidates) {
          const e = formatChecked(s, 1);
          if (e?.state_key !== undefined) state.set(stateKeyOf(e.type, e.state_key), e);
        }
        expect(checkAuth(event, state, ROOM_V11)).toEqual(checkAuth(event, state, ROOM_V11));
      }),
      { numRuns: 100 },
    );
  });
});
