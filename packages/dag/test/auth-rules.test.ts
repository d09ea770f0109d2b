/**
 * The authorization rules of rooms/v10.md, v11.md and v12.md, one allowed and one rejected case
 * per rule and room version where the rule applies (rule numbers are v12's; v10/v11 number the
 * rules after 1 one lower). Built with the tiny factory in auth-factory.ts.
 */
import { type SigningKey, signingKeyFromSeed, signJson } from '@weft/signing';
import { describe, expect, it } from 'vitest';

import {
  type AuthRejection,
  type CheckAuthOptions,
  checkAuth,
  type DagEvent,
  stateKeyOf,
} from '../src/index.ts';
import { ALICE, BOB, CAROL, DAVE, TestRoom, VERSIONS } from './auth-factory.ts';

interface Built {
  readonly event: DagEvent;
  readonly state: Map<string, DagEvent>;
  readonly options?: CheckAuthOptions;
}

interface RuleCase {
  readonly rule: string;
  readonly name: string;
  readonly versions?: readonly string[];
  readonly createContent?: Record<string, unknown>;
  readonly build: (room: TestRoom) => Built;
  /** `true`, or the expected rejection reason. */
  readonly expect: true | AuthRejection;
}

const ALL = ['10', '11', '12'] as const;

/** The state a joined-members room usually has: PL (Alice 100 up to v11), Bob joined. */
function basic(room: TestRoom, ...more: DagEvent[]): Map<string, DagEvent> {
  const users = room.rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [ALICE]: 100 };
  return room.state(room.powerLevels({ users }), room.member(BOB, 'join'), ...more);
}

/** Auth events looked up among the values of `state` (as on receipt of a PDU). */
function lookupIn(state: Map<string, DagEvent>, extra: DagEvent[] = []): CheckAuthOptions {
  const byId = new Map([...state.values(), ...extra].map((e) => [e.event_id, e]));
  return { authEvent: (id) => byId.get(id) };
}

/** The IDs the event should cite, per auth events selection, taken from `state`. */
function citing(event: DagEvent, state: Map<string, DagEvent>, ids: string[]) {
  return {
    ...event,
    auth_events: ids.filter((id) => [...state.values()].some((e) => e.event_id === id)),
  };
}

const CASES: RuleCase[] = [
  // ---- Rule 1: m.room.create
  {
    rule: '1.5',
    name: 'a well-formed create event is allowed',
    expect: true,
    build: (r) => ({ event: r.create, state: new Map() }),
  },
  {
    rule: '1.1',
    name: 'create with prev_events',
    expect: 'create-has-prev-events',
    build: (r) => ({ event: { ...r.create, prev_events: ['$x'] }, state: new Map() }),
  },
  {
    rule: '1.2',
    name: 'v12 create with a room_id',
    versions: ['12'],
    expect: 'create-has-room-id',
    build: (r) => ({ event: { ...r.create, room_id: '!create' }, state: new Map() }),
  },
  {
    rule: '1.2',
    name: 'room_id domain differs from sender domain',
    versions: ['10', '11'],
    expect: 'create-room-id-domain-mismatch',
    build: (r) => ({ event: { ...r.create, room_id: '!room:b.test' }, state: new Map() }),
  },
  {
    rule: '1.3',
    name: 'unrecognised room_version',
    expect: 'create-unknown-room-version',
    createContent: { room_version: '99' },
    build: (r) => ({ event: r.create, state: new Map() }),
  },
  {
    rule: '1.3',
    name: 'recognised older room_version string',
    expect: true,
    createContent: { room_version: '9' },
    build: (r) => ({ event: r.create, state: new Map() }),
  },
  {
    rule: '1.4',
    name: 'v10 create without content.creator',
    versions: ['10'],
    expect: 'create-missing-creator',
    build: (r) => ({ event: { ...r.create, content: { room_version: '10' } }, state: new Map() }),
  },
  {
    rule: '1.4',
    name: 'v10 create whose content.creator is present but not a string (only presence is required)',
    versions: ['10'],
    expect: true,
    build: (r) => ({
      event: { ...r.create, content: { room_version: '10', creator: 42 } },
      state: new Map(),
    }),
  },
  {
    rule: '1.4',
    name: 'v10 create whose content.creator is null (present)',
    versions: ['10'],
    expect: true,
    build: (r) => ({
      event: { ...r.create, content: { room_version: '10', creator: null } },
      state: new Map(),
    }),
  },
  {
    rule: '1.4',
    name: 'v11+ create without content.creator is fine',
    versions: ['11', '12'],
    expect: true,
    build: (r) => ({
      event: { ...r.create, content: { room_version: r.rules.id } },
      state: new Map(),
    }),
  },
  {
    rule: '1.4',
    name: 'v12 additional_creators with an invalid user ID',
    versions: ['12'],
    createContent: { additional_creators: ['not-a-user'] },
    expect: 'create-invalid-additional-creators',
    build: (r) => ({ event: r.create, state: new Map() }),
  },
  {
    rule: '1.4',
    name: 'v12 additional_creators not an array',
    versions: ['12'],
    createContent: { additional_creators: BOB },
    expect: 'create-invalid-additional-creators',
    build: (r) => ({ event: r.create, state: new Map() }),
  },
  {
    rule: '1.4',
    name: 'v12 valid additional_creators',
    versions: ['12'],
    createContent: { additional_creators: [BOB] },
    expect: true,
    build: (r) => ({ event: r.create, state: new Map() }),
  },

  // ---- Rule 2 (v12): room ID names an accepted create event
  {
    rule: '2',
    name: 'room_id of another create event',
    versions: ['12'],
    expect: 'room-id-not-create-event',
    build: (r) => ({ event: { ...r.message(ALICE), room_id: '!other' }, state: basic(r) }),
  },
  {
    rule: '2',
    name: 'rejected create event',
    versions: ['12'],
    expect: 'rejected-create-event',
    build: (r) => {
      const state = basic(r);
      state.set(stateKeyOf('m.room.create', ''), { ...r.create, rejected: true });
      return { event: r.message(ALICE), state };
    },
  },

  {
    rule: '2',
    name: 'v12 auth state without the create event: found through the auth event lookup',
    versions: ['12'],
    expect: true,
    build: (r) => {
      const state = basic(r);
      state.delete(stateKeyOf('m.room.create', ''));
      return { event: r.message(ALICE), state, options: lookupIn(state, [r.create]) };
    },
  },
  {
    rule: '2',
    name: 'v12 auth state without the create event and no lookup',
    versions: ['12'],
    expect: 'missing-create-event',
    build: (r) => {
      const state = basic(r);
      state.delete(stateKeyOf('m.room.create', ''));
      return { event: r.message(ALICE), state };
    },
  },
  // ---- Rule 3: auth_events
  {
    rule: '3.2',
    name: 'correctly selected auth events',
    expect: true,
    build: (r) => {
      const state = basic(r);
      const ids = [...state.values()]
        .filter((e) => e.type !== 'm.room.member' || e.state_key === ALICE)
        .filter(
          (e) => !(r.rules.authorization.roomCreateEventIdAsRoomId && e.type === 'm.room.create'),
        )
        .map((e) => e.event_id);
      return { event: citing(r.message(ALICE), state, ids), state, options: lookupIn(state) };
    },
  },
  {
    rule: '3.1',
    name: 'duplicate (type, state_key) among auth events',
    expect: 'duplicate-auth-events',
    build: (r) => {
      const pl1 = r.powerLevels({ users: {} });
      const pl2 = r.powerLevels({ users: {} });
      const state = basic(r, pl1);
      return {
        event: { ...r.message(ALICE), auth_events: [pl1.event_id, pl2.event_id] },
        state,
        options: lookupIn(state, [pl2]),
      };
    },
  },
  {
    rule: '3.2',
    name: 'auth event not in the selection (join rules for a message)',
    expect: 'unexpected-auth-event',
    build: (r) => {
      const jr = r.joinRules('public');
      const state = basic(r, jr);
      return {
        event: { ...r.message(ALICE), auth_events: [jr.event_id] },
        state,
        options: lookupIn(state),
      };
    },
  },
  {
    rule: '3.2',
    name: 'v12 cites the create event',
    versions: ['12'],
    expect: 'unexpected-auth-event',
    build: (r) => {
      const state = basic(r);
      return {
        event: { ...r.message(ALICE), auth_events: ['$create'] },
        state,
        options: lookupIn(state),
      };
    },
  },
  {
    rule: '3.3',
    name: 'a rejected auth event',
    expect: 'rejected-auth-event',
    build: (r) => {
      const pl = { ...r.powerLevels({}), rejected: true };
      const state = basic(r);
      return {
        event: { ...r.message(ALICE), auth_events: [pl.event_id] },
        state,
        options: lookupIn(state, [pl]),
      };
    },
  },
  {
    rule: '2.4',
    name: 'v10/v11 auth events without the create event',
    versions: ['10', '11'],
    expect: 'no-create-in-auth-events',
    build: (r) => {
      const state = basic(r);
      const own = state.get(stateKeyOf('m.room.member', ALICE));
      return {
        event: { ...r.message(ALICE), auth_events: own ? [own.event_id] : [] },
        state,
        options: lookupIn(state),
      };
    },
  },
  {
    rule: '3.5',
    name: 'auth event from another room',
    expect: 'auth-event-room-mismatch',
    build: (r) => {
      const foreign = { ...r.powerLevels({}), room_id: '!elsewhere:a.test' };
      const state = basic(r);
      return {
        event: { ...r.message(ALICE), auth_events: [foreign.event_id] },
        state,
        options: lookupIn(state, [foreign]),
      };
    },
  },
  {
    rule: '3',
    name: 'an auth event nobody has',
    expect: 'missing-auth-event',
    build: (r) => {
      const state = basic(r);
      return {
        event: { ...r.message(ALICE), auth_events: ['$ghost'] },
        state,
        options: lookupIn(state),
      };
    },
  },

  // ---- Rule 4: m.federate
  {
    rule: '4',
    name: 'm.federate false, sender on another server',
    createContent: { 'm.federate': false },
    expect: 'not-federated',
    build: (r) => ({ event: r.message(BOB), state: basic(r) }),
  },
  {
    rule: '4',
    name: "m.federate false, sender on the creator's server",
    createContent: { 'm.federate': false },
    expect: true,
    build: (r) => ({ event: r.message(ALICE), state: basic(r) }),
  },

  // ---- Rule 5: m.room.member
  {
    rule: '5.1',
    name: 'member event without membership',
    expect: 'invalid-membership-event',
    build: (r) => ({ event: r.event('m.room.member', CAROL, {}, CAROL), state: basic(r) }),
  },
  {
    rule: '5.3.1',
    name: 'first join of the creator right after create',
    expect: true,
    build: (r) => ({
      event: { ...r.member(ALICE, 'join'), prev_events: ['$create'] },
      state: new Map([[stateKeyOf('m.room.create', ''), r.create]]),
    }),
  },
  {
    rule: '5.3.1',
    name: 'first join after create by someone else',
    expect: 'join-rule-forbids-join',
    build: (r) => ({
      event: { ...r.member(BOB, 'join'), prev_events: ['$create'] },
      state: new Map([[stateKeyOf('m.room.create', ''), r.create]]),
    }),
  },
  {
    rule: '5.3.2',
    name: 'join on behalf of someone else',
    expect: 'sender-not-target',
    build: (r) => ({ event: r.member(CAROL, 'join', BOB), state: basic(r, r.joinRules('public')) }),
  },
  {
    rule: '5.3.3',
    name: 'banned user joins a public room',
    expect: 'sender-banned',
    build: (r) => ({
      event: r.member(CAROL, 'join'),
      state: basic(r, r.joinRules('public'), r.member(CAROL, 'ban', ALICE)),
    }),
  },
  {
    rule: '5.3.4',
    name: 'invited user joins an invite-only room',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'join'),
      state: basic(r, r.joinRules('invite'), r.member(CAROL, 'invite', ALICE)),
    }),
  },
  {
    rule: '5.3.4',
    name: 'uninvited user joins an invite-only room',
    expect: 'join-rule-forbids-join',
    build: (r) => ({ event: r.member(CAROL, 'join'), state: basic(r, r.joinRules('invite')) }),
  },
  {
    rule: '5.3.4',
    name: 'uninvited user joins a knock room',
    expect: 'join-rule-forbids-join',
    build: (r) => ({
      event: r.member(CAROL, 'join'),
      state: basic(r, r.joinRules('knock'), r.member(CAROL, 'knock')),
    }),
  },
  {
    rule: '5.3.5.1',
    name: 'invited user joins a restricted room',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'join'),
      state: basic(r, r.joinRules('restricted'), r.member(CAROL, 'invite', ALICE)),
    }),
  },
  {
    rule: '5.3.5.3',
    name: 'restricted join authorised by a joined user able to invite',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'join', CAROL, { join_authorised_via_users_server: BOB }),
      state: basic(r, r.joinRules('knock_restricted')),
    }),
  },
  {
    rule: '5.3.5.2',
    name: 'restricted join authorised by a user who is not joined',
    expect: 'restricted-join-unauthorised',
    build: (r) => ({
      event: r.member(CAROL, 'join', CAROL, { join_authorised_via_users_server: DAVE }),
      state: basic(r, r.joinRules('restricted')),
    }),
  },
  {
    rule: '5.3.5.2',
    name: 'restricted join authorised by a user below the invite level',
    expect: 'restricted-join-unauthorised',
    build: (r) => ({
      event: r.member(CAROL, 'join', CAROL, { join_authorised_via_users_server: BOB }),
      state: r.state(
        r.powerLevels({
          invite: 10,
          users: r.rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [ALICE]: 100 },
        }),
        r.member(BOB, 'join'),
        r.joinRules('restricted'),
      ),
    }),
  },
  {
    rule: '5.3.5.2',
    name: 'restricted join without join_authorised_via_users_server',
    expect: 'restricted-join-unauthorised',
    build: (r) => ({ event: r.member(CAROL, 'join'), state: basic(r, r.joinRules('restricted')) }),
  },
  {
    rule: '5.3.6',
    name: 'anyone joins a public room',
    expect: true,
    build: (r) => ({ event: r.member(CAROL, 'join'), state: basic(r, r.joinRules('public')) }),
  },
  {
    rule: '5.3.7',
    name: 'join with the private join rule',
    expect: 'join-rule-forbids-join',
    build: (r) => ({ event: r.member(CAROL, 'join'), state: basic(r, r.joinRules('private')) }),
  },

  // 5.4 invite
  {
    rule: '5.4.4',
    name: 'joined member invites',
    expect: true,
    build: (r) => ({ event: r.member(CAROL, 'invite', BOB), state: basic(r) }),
  },
  {
    rule: '5.4.2',
    name: 'non-member invites',
    expect: 'sender-not-joined',
    build: (r) => ({ event: r.member(CAROL, 'invite', DAVE), state: basic(r) }),
  },
  {
    rule: '5.4.3',
    name: 'inviting a joined user',
    expect: 'target-already-joined-or-banned',
    build: (r) => ({
      event: r.member(CAROL, 'invite', BOB),
      state: basic(r, r.member(CAROL, 'join')),
    }),
  },
  {
    rule: '5.4.3',
    name: 'inviting a banned user',
    expect: 'target-already-joined-or-banned',
    build: (r) => ({
      event: r.member(CAROL, 'invite', ALICE),
      state: basic(r, r.member(CAROL, 'ban', ALICE)),
    }),
  },
  {
    rule: '5.4.5',
    name: 'inviter below the invite level',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.member(CAROL, 'invite', BOB),
      state: basic(
        r,
        r.powerLevels({
          invite: 50,
          users: r.rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [ALICE]: 100 },
        }),
      ),
    }),
  },

  // 5.4.1 third-party invites
  ...thirdPartyCases(),

  // 5.5 leave
  {
    rule: '5.5.1',
    name: 'joined user leaves',
    expect: true,
    build: (r) => ({ event: r.member(BOB, 'leave'), state: basic(r) }),
  },
  {
    rule: '5.5.1',
    name: 'invited user rejects the invite',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'leave'),
      state: basic(r, r.member(CAROL, 'invite', BOB)),
    }),
  },
  {
    rule: '5.5.1',
    name: 'knocking user rescinds the knock',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'leave'),
      state: basic(r, r.joinRules('knock'), r.member(CAROL, 'knock')),
    }),
  },
  {
    rule: '5.5.1',
    name: 'a user who never joined leaves',
    expect: 'leave-not-allowed',
    build: (r) => ({ event: r.member(CAROL, 'leave'), state: basic(r) }),
  },
  {
    rule: '5.5.1',
    name: 'a banned user lifts their own ban',
    expect: 'leave-not-allowed',
    build: (r) => ({
      event: r.member(CAROL, 'leave'),
      state: basic(r, r.member(CAROL, 'ban', ALICE)),
    }),
  },
  {
    rule: '5.5.2',
    name: 'kick by a non-member',
    expect: 'sender-not-joined',
    build: (r) => ({ event: r.member(BOB, 'leave', DAVE), state: basic(r) }),
  },
  {
    rule: '5.5.3',
    name: 'unban by a user below the ban level',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.member(CAROL, 'leave', BOB),
      state: r.state(
        r.powerLevels({ kick: 0, ban: 60, users: { [BOB]: 55 } }),
        r.member(BOB, 'join'),
        r.member(CAROL, 'ban', ALICE),
      ),
    }),
  },
  {
    rule: '5.5.4',
    name: 'unban by a user at ban and kick level',
    expect: true,
    build: (r) => ({
      event: r.member(CAROL, 'leave', ALICE),
      state: basic(r, r.member(CAROL, 'ban', ALICE)),
    }),
  },
  {
    rule: '5.5.4',
    name: 'kick by a higher user',
    expect: true,
    build: (r) => ({ event: r.member(BOB, 'leave', ALICE), state: basic(r) }),
  },
  {
    rule: '5.5.5',
    name: 'kick of an equal-level user',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.member(CAROL, 'leave', BOB),
      state: r.state(
        r.powerLevels({ users: { [BOB]: 50, [CAROL]: 50 } }),
        r.member(BOB, 'join'),
        r.member(CAROL, 'join'),
      ),
    }),
  },

  // 5.6 ban
  {
    rule: '5.6.2',
    name: 'ban by a higher user',
    expect: true,
    build: (r) => ({ event: r.member(BOB, 'ban', ALICE), state: basic(r) }),
  },
  {
    rule: '5.6.1',
    name: 'ban by a non-member',
    expect: 'sender-not-joined',
    build: (r) => ({ event: r.member(BOB, 'ban', DAVE), state: basic(r) }),
  },
  {
    rule: '5.6.3',
    name: 'ban by a user below the ban level',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.member(CAROL, 'ban', BOB),
      state: basic(r, r.member(CAROL, 'join')),
    }),
  },

  // 5.7 knock
  {
    rule: '5.7.3',
    name: 'knock on a knock room',
    expect: true,
    build: (r) => ({ event: r.member(CAROL, 'knock'), state: basic(r, r.joinRules('knock')) }),
  },
  {
    rule: '5.7.1',
    name: 'knock on an invite-only room',
    expect: 'join-rule-forbids-knock',
    build: (r) => ({ event: r.member(CAROL, 'knock'), state: basic(r, r.joinRules('invite')) }),
  },
  {
    rule: '5.7.2',
    name: 'knock on behalf of someone else',
    expect: 'sender-not-target',
    build: (r) => ({ event: r.member(CAROL, 'knock', BOB), state: basic(r, r.joinRules('knock')) }),
  },
  {
    rule: '5.7.4',
    name: 'knock while invited',
    expect: 'knock-not-allowed',
    build: (r) => ({
      event: r.member(CAROL, 'knock'),
      state: basic(r, r.joinRules('knock'), r.member(CAROL, 'invite', BOB)),
    }),
  },
  {
    rule: '5.8',
    name: 'unknown membership value',
    expect: 'unknown-membership',
    build: (r) => ({ event: r.member(BOB, 'lurk'), state: basic(r) }),
  },

  // ---- Rule 6: the sender must be joined
  {
    rule: '6',
    name: 'message from a non-member',
    expect: 'sender-not-joined',
    build: (r) => ({ event: r.message(CAROL), state: basic(r) }),
  },
  {
    rule: '6',
    name: 'message from a member',
    expect: true,
    build: (r) => ({ event: r.message(BOB), state: basic(r) }),
  },

  // ---- Rule 7: m.room.third_party_invite
  {
    rule: '7',
    name: 'third_party_invite at the invite level',
    expect: true,
    build: (r) => ({
      event: r.event('m.room.third_party_invite', BOB, { public_key: 'k' }, 'tok'),
      state: basic(r),
    }),
  },
  {
    rule: '7',
    name: 'third_party_invite below the invite level',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.event('m.room.third_party_invite', BOB, { public_key: 'k' }, 'tok'),
      state: r.state(r.powerLevels({ invite: 10, state_default: 0 }), r.member(BOB, 'join')),
    }),
  },

  // ---- Rule 8: required power level
  {
    rule: '8',
    name: 'state event below state_default',
    expect: 'insufficient-power',
    build: (r) => ({ event: r.event('m.room.topic', BOB, { topic: 't' }, ''), state: basic(r) }),
  },
  {
    rule: '8',
    name: 'message type raised in events',
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.message(BOB, 'm.custom'),
      state: r.state(r.powerLevels({ events: { 'm.custom': 1 } }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: '8',
    name: 'state event lowered in events',
    expect: true,
    build: (r) => ({
      event: r.event('m.room.topic', BOB, { topic: 't' }, ''),
      state: r.state(r.powerLevels({ events: { 'm.room.topic': 0 } }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: '8',
    name: 'redaction is governed by events_default, not redact',
    expect: true,
    build: (r) => ({
      event: r.event('m.room.redaction', BOB, { redacts: '$x' }),
      state: r.state(r.powerLevels({ redact: 100 }), r.member(BOB, 'join')),
    }),
  },

  // ---- Rule 9: state keys naming users
  {
    rule: '9',
    name: 'state_key naming another user',
    expect: 'state-key-impersonation',
    build: (r) => ({
      event: r.event('m.custom.state', BOB, {}, ALICE),
      state: r.state(r.powerLevels({ state_default: 0 }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: '9',
    name: 'state_key naming the sender',
    expect: true,
    build: (r) => ({
      event: r.event('m.custom.state', BOB, {}, BOB),
      state: r.state(r.powerLevels({ state_default: 0 }), r.member(BOB, 'join')),
    }),
  },

  // ---- Rule 10: m.room.power_levels
  ...powerLevelCases(),

  // ---- v12 creators (rooms/v12.md): infinite power, additional_creators
  {
    rule: 'v12 creators',
    name: 'the creator sends anything even when every level is huge',
    versions: ['12'],
    expect: true,
    build: (r) => ({
      event: r.event('m.room.topic', ALICE, {}, ''),
      state: r.state(r.powerLevels({ state_default: 2 ** 50, users: {} })),
    }),
  },
  {
    rule: 'v12 creators',
    name: 'an additional creator has infinite power',
    versions: ['12'],
    createContent: { additional_creators: [BOB] },
    expect: true,
    build: (r) => ({
      event: r.event('m.room.topic', BOB, {}, ''),
      state: r.state(r.powerLevels({ state_default: 2 ** 50 }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: 'v12 creators',
    name: 'a creator cannot be kicked by a user with 100',
    versions: ['12'],
    expect: 'insufficient-power',
    build: (r) => ({
      event: r.member(ALICE, 'leave', BOB),
      state: r.state(r.powerLevels({ users: { [BOB]: 100 } }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: 'v10/v11 creators',
    name: 'the creator listed at 50 can be kicked by a user with 100',
    versions: ['10', '11'],
    expect: true,
    build: (r) => ({
      event: r.member(ALICE, 'leave', BOB),
      state: r.state(r.powerLevels({ users: { [ALICE]: 50, [BOB]: 100 } }), r.member(BOB, 'join')),
    }),
  },
  {
    rule: 'no power levels',
    name: 'the creator has 100 (v10/v11) or infinity (v12) without power levels',
    expect: true,
    build: (r) => ({ event: r.member(BOB, 'ban', ALICE), state: r.state(r.member(BOB, 'join')) }),
  },
  {
    rule: 'no power levels',
    name: 'others have 0 without power levels',
    expect: 'insufficient-power',
    build: (r) => ({ event: r.member(ALICE, 'ban', BOB), state: r.state(r.member(BOB, 'join')) }),
  },
];

// Identity-server keys for real signatures (appendices "Signing JSON"); seeds are arbitrary.
const ID_KEY = signingKeyFromSeed(new Uint8Array(32).fill(7), '0');
const OTHER_KEY = signingKeyFromSeed(new Uint8Array(32).fill(9), '0');

function realSigned(key: SigningKey): Record<string, unknown> {
  return signJson({ mxid: CAROL, token: 'tok', sender: BOB }, 'id.test', key.keyId, key);
}

function tpiWith(r: TestRoom, content: Record<string, unknown>): DagEvent {
  return r.event('m.room.third_party_invite', BOB, content, 'tok');
}

function thirdPartyCases(): RuleCase[] {
  const invite = (r: TestRoom, signed: unknown, sender = BOB) =>
    r.member(CAROL, 'invite', sender, { third_party_invite: { display_name: 'c', signed } });
  const good = { mxid: CAROL, token: 'tok', signatures: { 'id.test': { 'ed25519:0': 'sig' } } };
  const tpi = (r: TestRoom, sender = BOB) =>
    r.event(
      'm.room.third_party_invite',
      sender,
      { public_key: 'pk', public_keys: [{ public_key: 'pk2' }] },
      'tok',
    );
  return [
    {
      rule: '5.4.1.7',
      name: 'third-party invite whose signature matches',
      expect: true,
      build: (r) => ({
        event: invite(r, good),
        state: basic(r, tpi(r)),
        options: { verifyThirdPartyInviteSignature: (_s, keys) => keys.includes('pk2') },
      }),
    },
    {
      rule: '5.4.1.8',
      name: 'third-party invite whose signature does not match',
      expect: 'third-party-invite-bad-signature',
      build: (r) => ({
        event: invite(r, good),
        state: basic(r, tpi(r)),
        options: { verifyThirdPartyInviteSignature: () => false },
      }),
    },
    {
      rule: '5.4.1.7',
      name: 'Ed25519-signed third-party invite, key in public_key',
      expect: true,
      build: (r) => ({
        event: invite(r, realSigned(ID_KEY)),
        state: basic(r, tpiWith(r, { public_key: ID_KEY.publicKeyBase64 })),
      }),
    },
    {
      rule: '5.4.1.7',
      name: 'Ed25519-signed third-party invite, key in public_keys',
      expect: true,
      build: (r) => ({
        event: invite(r, realSigned(ID_KEY)),
        state: basic(
          r,
          tpiWith(r, {
            public_key: OTHER_KEY.publicKeyBase64,
            public_keys: [{ public_key: ID_KEY.publicKeyBase64 }],
          }),
        ),
      }),
    },
    {
      rule: '5.4.1.8',
      name: 'third-party invite signed by a key the room does not list',
      expect: 'third-party-invite-bad-signature',
      build: (r) => ({
        event: invite(r, realSigned(OTHER_KEY)),
        state: basic(r, tpiWith(r, { public_key: ID_KEY.publicKeyBase64 })),
      }),
    },
    {
      rule: '5.4.1.8',
      name: 'third-party invite whose signed block was altered after signing',
      expect: 'third-party-invite-bad-signature',
      build: (r) => ({
        event: invite(r, { ...realSigned(ID_KEY), extra: 1 }),
        state: basic(r, tpiWith(r, { public_key: ID_KEY.publicKeyBase64 })),
      }),
    },
    {
      rule: '5.4.1.8',
      name: 'third-party invite with a fake signature (default verifier)',
      expect: 'third-party-invite-bad-signature',
      build: (r) => ({ event: invite(r, good), state: basic(r, tpi(r)) }),
    },
    {
      rule: '5.4.1.1',
      name: 'third-party invite of a banned user',
      expect: 'target-banned',
      build: (r) => ({
        event: invite(r, good),
        state: basic(r, tpi(r), r.member(CAROL, 'ban', ALICE)),
      }),
    },
    {
      rule: '5.4.1.2',
      name: 'third-party invite without signed',
      expect: 'invalid-third-party-invite',
      build: (r) => ({ event: invite(r, undefined), state: basic(r, tpi(r)) }),
    },
    {
      rule: '5.4.1.3',
      name: 'third-party invite without token',
      expect: 'invalid-third-party-invite',
      build: (r) => ({ event: invite(r, { mxid: CAROL }), state: basic(r, tpi(r)) }),
    },
    {
      rule: '5.4.1.4',
      name: 'third-party invite for another mxid',
      expect: 'invalid-third-party-invite',
      build: (r) => ({ event: invite(r, { ...good, mxid: DAVE }), state: basic(r, tpi(r)) }),
    },
    {
      rule: '5.4.1.5',
      name: 'third-party invite with no matching m.room.third_party_invite',
      expect: 'third-party-invite-not-found',
      build: (r) => ({ event: invite(r, good), state: basic(r) }),
    },
    {
      rule: '5.4.1.6',
      name: 'third-party invite sent by someone else than the 3pid inviter',
      expect: 'third-party-invite-sender-mismatch',
      build: (r) => ({ event: invite(r, good), state: basic(r, tpi(r, ALICE)) }),
    },
  ];
}

function powerLevelCases(): RuleCase[] {
  // Alice is the creator (100 in v10/v11 via users, infinite in v12); Bob has 50.
  const users = (r: TestRoom, extra: Record<string, number> = {}) => ({
    ...(r.rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [ALICE]: 100 }),
    [BOB]: 50,
    ...extra,
  });
  const withPl = (r: TestRoom, content: Record<string, unknown>) =>
    r.state(r.powerLevels(content), r.member(BOB, 'join'), r.member(CAROL, 'join'));
  return [
    {
      rule: '10.1',
      name: 'a string level',
      expect: 'invalid-power-levels',
      build: (r) => ({
        event: r.powerLevels({ ban: '50', users: users(r) }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.2',
      name: 'events with a non-integer value',
      expect: 'invalid-power-levels',
      build: (r) => ({
        event: r.powerLevels({ events: { 'm.x': 1.5 }, users: users(r) }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.2',
      name: 'notifications not an object',
      expect: 'invalid-power-levels',
      build: (r) => ({
        event: r.powerLevels({ notifications: 5, users: users(r) }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.3',
      name: 'users with an invalid user ID key',
      expect: 'invalid-power-levels',
      build: (r) => ({
        event: r.powerLevels({ users: { ...users(r), bob: 1 } }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.4',
      name: 'v12 users lists the create sender',
      versions: ['12'],
      expect: 'creator-in-power-levels',
      build: (r) => ({
        event: r.powerLevels({ users: { [ALICE]: 100 } }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.4',
      name: 'v12 users lists an additional creator',
      versions: ['12'],
      createContent: { additional_creators: [CAROL] },
      expect: 'creator-in-power-levels',
      build: (r) => ({
        event: r.powerLevels({ users: { [CAROL]: 100 } }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.4',
      name: 'v10/v11 users may list the creator',
      versions: ['10', '11'],
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: { [ALICE]: 100 } }),
        state: withPl(r, { users: users(r) }),
      }),
    },
    {
      rule: '10.5',
      name: 'the first power levels event',
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: users(r, { [CAROL]: 10 ** 6 }) }),
        state: r.state(),
      }),
    },
    {
      rule: '10.6',
      name: 'raising state_default above the sender',
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r), state_default: 60 }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.6',
      name: 'removing a ban level above the sender',
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r) }, BOB),
        state: withPl(r, { users: users(r), ban: 70, state_default: 0 }),
      }),
    },
    {
      rule: '10.6',
      name: "changing kick within the sender's level",
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: users(r), kick: 40 }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.7',
      name: 'changing an events entry that is above the sender',
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r), events: { 'm.x': 10 } }, BOB),
        state: withPl(r, { users: users(r), state_default: 0, events: { 'm.x': 80 } }),
      }),
    },
    {
      rule: '10.8',
      name: 'adding a notifications entry above the sender',
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r), notifications: { room: 51 } }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.8',
      name: "adding an events entry at the sender's level",
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: users(r), events: { 'm.x': 50 } }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.9',
      name: "changing a user at the sender's level",
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r, { [CAROL]: 0 }) }, BOB),
        state: withPl(r, { users: users(r, { [CAROL]: 50 }), state_default: 0 }),
      }),
    },
    {
      rule: '10.9',
      name: "lowering one's own level",
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: users(r, { [BOB]: 10 }) }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.10',
      name: 'giving a user more than the sender has',
      expect: 'power-levels-change-not-allowed',
      build: (r) => ({
        event: r.powerLevels({ users: users(r, { [CAROL]: 51 }) }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
    {
      rule: '10.10',
      name: "giving a user the sender's own level",
      expect: true,
      build: (r) => ({
        event: r.powerLevels({ users: users(r, { [CAROL]: 50 }) }, BOB),
        state: withPl(r, { users: users(r), state_default: 0 }),
      }),
    },
  ];
}

describe('checkAuth (rooms/v10.md, v11.md, v12.md authorization rules)', () => {
  for (const c of CASES) {
    for (const version of c.versions ?? ALL) {
      const verdict = c.expect === true ? 'allows' : `rejects (${c.expect})`;
      it(`rule ${c.rule} v${version}: ${verdict} ${c.name}`, () => {
        const rules = VERSIONS[version];
        if (rules === undefined) throw new Error(`no rules for ${version}`);
        const room = new TestRoom(rules, c.createContent);
        const { event, state, options } = c.build(room);
        const outcome = checkAuth(event, state, rules, options);
        if (c.expect === true) {
          expect(outcome).toEqual({ allowed: true });
        } else {
          expect(outcome).toMatchObject({ allowed: false, reason: c.expect });
        }
      });
    }
  }
});

describe('v10 → v11: the creator is the create event sender', () => {
  it('v10 lets content.creator make the first join, v11 and v12 the sender', () => {
    for (const [version, joiner, allowed] of [
      ['10', BOB, true],
      ['10', ALICE, false],
      ['11', ALICE, true],
      ['11', BOB, false],
      ['12', ALICE, true],
    ] as const) {
      const rules = VERSIONS[version];
      if (rules === undefined) throw new Error(`no rules for ${version}`);
      const room = new TestRoom(rules, { creator: BOB });
      const join = { ...room.member(joiner, 'join'), prev_events: ['$create'] };
      const state = new Map([[stateKeyOf('m.room.create', ''), room.create]]);
      expect(checkAuth(join, state, rules).allowed, `v${version} ${joiner}`).toBe(allowed);
    }
  });
});

describe('checkAuth argument checks', () => {
  it('throws TypeError for a non-event, a non-map state or missing rules', () => {
    const room = new TestRoom(VERSIONS['11'] ?? ({} as never));
    const state = room.state();
    expect(() => checkAuth(null as never, state, room.rules)).toThrow(TypeError);
    expect(() => checkAuth(room.message(ALICE), {} as never, room.rules)).toThrow(TypeError);
    expect(() => checkAuth(room.message(ALICE), state, {} as never)).toThrow(TypeError);
  });
});
