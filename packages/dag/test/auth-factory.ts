/**
 * A tiny factory for authorization-rule tests: a room of a given version with a create event,
 * and helpers that build events and state maps. Event IDs are readable (`$create`, `$m-alice`).
 */
import {
  type DagEvent,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type RoomVersionRules,
  stateKeyOf,
} from '../src/index.ts';

export const VERSIONS: Readonly<Record<string, RoomVersionRules>> = {
  '10': ROOM_V10,
  '11': ROOM_V11,
  '12': ROOM_V12,
};

export const ALICE = '@alice:a.test';
export const BOB = '@bob:b.test';
export const CAROL = '@carol:c.test';
export const DAVE = '@dave:a.test';

let counter = 0;

/** A room of version `rules` created by `creator` (content.creator for v10, sender for v11+). */
export class TestRoom {
  readonly rules: RoomVersionRules;
  readonly create: DagEvent;
  readonly roomId: string;

  constructor(
    rules: RoomVersionRules,
    createContent: Record<string, unknown> = {},
    creator = ALICE,
  ) {
    this.rules = rules;
    const v12 = rules.authorization.roomCreateEventIdAsRoomId;
    this.roomId = v12 ? '!create' : '!room:a.test';
    this.create = {
      event_id: '$create',
      ...(v12 ? {} : { room_id: this.roomId }),
      sender: creator,
      type: 'm.room.create',
      state_key: '',
      content: {
        room_version: rules.id,
        ...(rules.authorization.useRoomCreateSender ? {} : { creator }),
        ...createContent,
      },
      prev_events: [],
      auth_events: [],
      depth: 1,
      origin_server_ts: 1,
    };
  }

  /** Any event in this room; `state_key` present makes it a state event. */
  event(
    type: string,
    sender: string,
    content: Record<string, unknown>,
    stateKey?: string,
    extra: Partial<DagEvent> = {},
  ): DagEvent {
    counter += 1;
    return {
      event_id: `$${type.replace(/^m\.room\./, '')}-${counter}`,
      room_id: this.roomId,
      sender,
      type,
      ...(stateKey === undefined ? {} : { state_key: stateKey }),
      content,
      prev_events: ['$prev'],
      auth_events: [],
      depth: 2,
      origin_server_ts: 1000 + counter,
      ...extra,
    };
  }

  member(user: string, membership: string, sender = user, content: Record<string, unknown> = {}) {
    return this.event('m.room.member', sender, { membership, ...content }, user);
  }

  powerLevels(content: Record<string, unknown>, sender = ALICE): DagEvent {
    return this.event('m.room.power_levels', sender, content, '');
  }

  joinRules(rule: string, sender = ALICE): DagEvent {
    return this.event('m.room.join_rules', sender, { join_rule: rule }, '');
  }

  message(sender: string, type = 'm.room.message'): DagEvent {
    return this.event(type, sender, { body: 'hi' });
  }

  /** A state map holding the create event, `events`, and a join for the creator. */
  state(...events: DagEvent[]): Map<string, DagEvent> {
    const state = new Map<string, DagEvent>();
    const creatorJoin = this.member(this.create.sender, 'join');
    for (const e of [this.create, creatorJoin, ...events]) {
      state.set(stateKeyOf(e.type, e.state_key ?? ''), e);
    }
    return state;
  }
}
