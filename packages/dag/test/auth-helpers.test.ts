/**
 * The helpers around the authorization rules: auth events selection (server-server-api "Auth
 * events selection") and power levels (m.room.power_levels schema, rooms/v12.md creators).
 */
import { describe, expect, it } from 'vitest';

import {
  authEventsSelection,
  powerLevelOf,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  requiredPowerLevel,
  roomCreators,
  senderPowerLevel,
} from '../src/index.ts';
import { ALICE, BOB, CAROL, DAVE, TestRoom } from './auth-factory.ts';

describe('authEventsSelection', () => {
  it('selects nothing for the create event', () => {
    const room = new TestRoom(ROOM_V11);
    expect(authEventsSelection(room.create, ROOM_V11)).toEqual([]);
  });

  it('selects create (up to v11), power levels and the sender for a message', () => {
    const room = new TestRoom(ROOM_V11);
    const expected = [
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
    ];
    expect(authEventsSelection(room.message(BOB), ROOM_V10)).toEqual([
      ['m.room.create', ''],
      ...expected,
    ]);
    expect(authEventsSelection(room.message(BOB), ROOM_V11)).toEqual([
      ['m.room.create', ''],
      ...expected,
    ]);
    // v12: the create event is implied by the room ID and must not be selected.
    expect(authEventsSelection(room.message(BOB), ROOM_V12)).toEqual(expected);
  });

  it('adds the target and join rules for join, invite and knock, not for leave or ban', () => {
    const room = new TestRoom(ROOM_V12);
    for (const membership of ['join', 'invite', 'knock']) {
      expect(authEventsSelection(room.member(CAROL, membership, BOB), ROOM_V12)).toEqual([
        ['m.room.power_levels', ''],
        ['m.room.member', BOB],
        ['m.room.member', CAROL],
        ['m.room.join_rules', ''],
      ]);
    }
    for (const membership of ['leave', 'ban']) {
      expect(authEventsSelection(room.member(CAROL, membership, BOB), ROOM_V12)).toEqual([
        ['m.room.power_levels', ''],
        ['m.room.member', BOB],
        ['m.room.member', CAROL],
      ]);
    }
  });

  it('does not repeat the sender when it is the target', () => {
    const room = new TestRoom(ROOM_V12);
    expect(authEventsSelection(room.member(BOB, 'join'), ROOM_V12)).toEqual([
      ['m.room.power_levels', ''],
      ['m.room.member', BOB],
      ['m.room.join_rules', ''],
    ]);
  });

  it('adds the third-party invite named by signed.token', () => {
    const room = new TestRoom(ROOM_V12);
    const invite = room.member(CAROL, 'invite', BOB, {
      third_party_invite: { signed: { mxid: CAROL, token: 'tok' } },
    });
    expect(authEventsSelection(invite, ROOM_V12)).toContainEqual([
      'm.room.third_party_invite',
      'tok',
    ]);
  });

  it('adds the authorising member of a restricted join', () => {
    const room = new TestRoom(ROOM_V12);
    const join = room.member(CAROL, 'join', CAROL, { join_authorised_via_users_server: DAVE });
    expect(authEventsSelection(join, ROOM_V12)).toContainEqual(['m.room.member', DAVE]);
    const invite = room.member(CAROL, 'invite', BOB, { join_authorised_via_users_server: DAVE });
    expect(authEventsSelection(invite, ROOM_V12)).not.toContainEqual(['m.room.member', DAVE]);
  });
});

describe('powerLevelOf and friends', () => {
  it('without power levels: the creator has 100 (v10 content.creator, v11 sender), others 0', () => {
    const v10 = new TestRoom(ROOM_V10, { creator: BOB });
    expect(powerLevelOf(BOB, v10.state(), ROOM_V10)).toBe(100);
    expect(powerLevelOf(ALICE, v10.state(), ROOM_V10)).toBe(0);
    const v11 = new TestRoom(ROOM_V11, { creator: BOB });
    expect(powerLevelOf(ALICE, v11.state(), ROOM_V11)).toBe(100);
    expect(powerLevelOf(BOB, v11.state(), ROOM_V11)).toBe(0);
  });

  it('v12 creators and additional creators have infinite power, with or without power levels', () => {
    const room = new TestRoom(ROOM_V12, { additional_creators: [BOB] });
    const noPl = room.state();
    const withPl = room.state(room.powerLevels({ users_default: 10, users: { [CAROL]: 99 } }));
    for (const state of [noPl, withPl]) {
      expect(powerLevelOf(ALICE, state, ROOM_V12)).toBe(Number.POSITIVE_INFINITY);
      expect(powerLevelOf(BOB, state, ROOM_V12)).toBe(Number.POSITIVE_INFINITY);
    }
    expect(powerLevelOf(CAROL, withPl, ROOM_V12)).toBe(99);
    expect(powerLevelOf(DAVE, withPl, ROOM_V12)).toBe(10);
    expect(powerLevelOf(DAVE, noPl, ROOM_V12)).toBe(0);
    expect([...roomCreators(noPl, ROOM_V12)].sort()).toEqual([ALICE, BOB].sort());
    // additional_creators means nothing before v12.
    expect([
      ...roomCreators(new TestRoom(ROOM_V11, { additional_creators: [BOB] }).state(), ROOM_V11),
    ]).toEqual([ALICE]);
  });

  it('with power levels, users then users_default; a creator listed lower in v11 is lower', () => {
    const room = new TestRoom(ROOM_V11);
    const state = room.state(
      room.powerLevels({ users: { [ALICE]: 20, [BOB]: 75 }, users_default: 5 }),
    );
    expect(powerLevelOf(ALICE, state, ROOM_V11)).toBe(20);
    expect(senderPowerLevel(room.message(BOB), state, ROOM_V11)).toBe(75);
    expect(powerLevelOf(CAROL, state, ROOM_V11)).toBe(5);
  });

  it('ignores non-integer values found in state, falling back to the defaults', () => {
    const room = new TestRoom(ROOM_V11);
    const state = room.state(
      room.powerLevels({ users: { [BOB]: '90' }, users_default: 1.5, events: { 'm.x': 'high' } }),
    );
    expect(powerLevelOf(BOB, state, ROOM_V11)).toBe(0);
    expect(requiredPowerLevel('m.x', false, state)).toBe(0);
    expect(requiredPowerLevel('m.x', true, state)).toBe(50);
  });

  it('required level: events entry, else state_default (50) or events_default (0)', () => {
    const room = new TestRoom(ROOM_V11);
    expect(requiredPowerLevel('m.room.topic', true, room.state())).toBe(50);
    expect(requiredPowerLevel('m.room.message', false, room.state())).toBe(0);
    const state = room.state(
      room.powerLevels({ state_default: 20, events_default: 3, events: { 'm.room.topic': 7 } }),
    );
    expect(requiredPowerLevel('m.room.topic', true, state)).toBe(7);
    expect(requiredPowerLevel('m.room.name', true, state)).toBe(20);
    expect(requiredPowerLevel('m.room.message', false, state)).toBe(3);
  });
});
