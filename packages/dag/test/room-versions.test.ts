/**
 * Room versions as data (rooms/v10.md, v11.md, v12.md), the registry, the state-key encoding of
 * the event model, and DagError's cross-copy marker.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  DagError,
  isStateEvent,
  parseStateKey,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  roomVersionRules,
  STABLE_ROOM_VERSIONS,
  stateKeyOf,
} from '../src/index.ts';

/** Every flag path whose value differs between two rule objects. */
function changedFlags(a: RoomVersionRules, b: RoomVersionRules): string[] {
  const changed: string[] = [];
  for (const group of ['eventFormat', 'authorization', 'stateResolution'] as const) {
    const before = a[group] as unknown as Record<string, boolean>;
    const after = b[group] as unknown as Record<string, boolean>;
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const key of Object.keys(before)) {
      if (before[key] !== after[key]) changed.push(`${group}.${key}`);
    }
  }
  return changed.sort();
}

describe('room version rules', () => {
  it('v11 changes exactly the creator source and the redacts position (rooms/v11.md)', () => {
    expect(changedFlags(ROOM_V10, ROOM_V11)).toEqual([
      'authorization.useRoomCreateSender',
      'eventFormat.redactsInContent',
    ]);
  });

  it('v12 adds privileged creators, hashed room IDs and state res v2.1 (rooms/v12.md)', () => {
    expect(changedFlags(ROOM_V11, ROOM_V12)).toEqual([
      'authorization.additionalRoomCreators',
      'authorization.explicitlyPrivilegeRoomCreators',
      'authorization.roomCreateEventIdAsRoomId',
      'eventFormat.createEventHasNoRoomId',
      'stateResolution.beginIterativeAuthChecksWithEmptyState',
      'stateResolution.considerConflictedStateSubgraph',
    ]);
  });

  it('v10 has the v10 auth features: integer power levels, knock_restricted', () => {
    expect(ROOM_V10.authorization).toMatchObject({
      knocking: true,
      restrictedJoinRule: true,
      knockRestrictedJoinRule: true,
      integerPowerLevels: true,
    });
    expect(ROOM_V10.stateResolution).toEqual({
      beginIterativeAuthChecksWithEmptyState: false,
      considerConflictedStateSubgraph: false,
    });
  });

  it('rule objects are deeply frozen', () => {
    for (const rules of [ROOM_V10, ROOM_V11, ROOM_V12]) {
      expect(Object.isFrozen(rules)).toBe(true);
      expect(Object.isFrozen(rules.authorization)).toBe(true);
      expect(Object.isFrozen(rules.eventFormat)).toBe(true);
      expect(Object.isFrozen(rules.stateResolution)).toBe(true);
      expect(() => {
        (rules.authorization as { knocking: boolean }).knocking = false;
      }).toThrow(TypeError);
    }
  });

  it('the registry knows 10, 11 and 12 and nothing else', () => {
    expect(roomVersionRules('10')).toBe(ROOM_V10);
    expect(roomVersionRules('11')).toBe(ROOM_V11);
    expect(roomVersionRules('12')).toBe(ROOM_V12);
    for (const id of ['1', '9', '13', '', 'org.matrix.msc1234', '10 ']) {
      expect(roomVersionRules(id)).toBeUndefined();
    }
  });

  it('lists the stable versions, oldest first', () => {
    expect(STABLE_ROOM_VERSIONS).toEqual(['10', '11', '12']);
    expect(Object.isFrozen(STABLE_ROOM_VERSIONS)).toBe(true);
  });
});

describe('event model: stateKeyOf / parseStateKey / isStateEvent', () => {
  it('round-trips any (type, state_key) pair and never collides', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (t1, k1, t2, k2) => {
        expect(parseStateKey(stateKeyOf(t1, k1))).toEqual({ type: t1, stateKey: k1 });
        if (t1 !== t2 || k1 !== k2) expect(stateKeyOf(t1, k1)).not.toBe(stateKeyOf(t2, k2));
      }),
    );
  });

  it('separator characters inside types cannot make two pairs collide', () => {
    expect(stateKeyOf('a:b', '')).not.toBe(stateKeyOf('a', ':b'));
    expect(stateKeyOf('a\u0000b', '')).not.toBe(stateKeyOf('a', '\u0000b'));
  });

  it('parseStateKey rejects strings stateKeyOf cannot produce', () => {
    for (const bad of ['', 'x', ':abc', '5:ab', '-1:', 'NaN:x']) {
      expect(() => parseStateKey(bad)).toThrow(TypeError);
    }
  });

  it('a state event is one with a state_key, even an empty one', () => {
    const base = {
      event_id: '$e',
      sender: '@a:a.test',
      type: 'm.room.topic',
      content: {},
      prev_events: [],
      auth_events: [],
      depth: 1,
      origin_server_ts: 1,
    };
    expect(isStateEvent({ ...base, state_key: '' })).toBe(true);
    expect(isStateEvent(base)).toBe(false);
  });
});

describe('DagError', () => {
  it('carries code and context, and isInstance works across copies via the marker', () => {
    const cause = new Error('inner');
    const error = new DagError('missing-key', 'PDU is missing sender', {
      eventId: '$e',
      path: 'sender',
      expected: 'a user ID',
      cause,
    });
    expect(error).toMatchObject({
      name: 'DagError',
      code: 'missing-key',
      eventId: '$e',
      path: 'sender',
    });
    expect(error.cause).toBe(cause);
    expect(DagError.isInstance(error)).toBe(true);
    const foreign = Object.assign(new Error('x'), { [Symbol.for('weft.dag.error')]: true });
    expect(DagError.isInstance(foreign)).toBe(true);
    expect(DagError.isInstance(new Error('x'))).toBe(false);
    expect(DagError.isInstance(null)).toBe(false);
  });
});
