/**
 * Test helper: builds a room DAG event by event the way a server would. Each new event cites the
 * chosen prev events, gets its `auth_events` from the state before it (auth events selection), and
 * is authorized against that state; an event that fails is kept but marked `rejected`, so it
 * never changes state. The state before an event is computed with `stateBeforeEvent`, i.e. by
 * the state resolution under test.
 */
import {
  authEventsSelection,
  checkSoftFail,
  type DagEvent,
  eventFetcher,
  type FetchEvents,
  type ResolveStateOptions,
  type RoomVersionRules,
  type StateKey,
  stateAfterEvent,
  stateBeforeEvent,
  stateKeyOf,
} from '../src/index.ts';

export interface EventSpec {
  readonly type: string;
  readonly sender: string;
  readonly state_key?: string;
  readonly content?: Record<string, unknown>;
  /** Prev events (default: the current forward extremities). */
  readonly prev?: readonly string[];
  /** Optional fixed `origin_server_ts` (default: a counter). */
  readonly ts?: number;
}

/** Where an event goes in the DAG: its prev events and timestamp (see {@link EventSpec}). */
export type EventPosition = Pick<EventSpec, 'prev' | 'ts'>;

export class TestRoom {
  readonly rules: RoomVersionRules;
  readonly events: DagEvent[] = [];
  readonly byId = new Map<string, DagEvent>();
  readonly after = new Map<string, Map<StateKey, string>>();
  readonly extremities = new Set<string>();
  readonly fetch: FetchEvents = (ids) => eventFetcher(this.events)(ids);
  roomId = '!room:example.com';
  #counter = 0;
  /** Third-party invite signature check used for every authorization (default: the real one). */
  readonly auth: ResolveStateOptions;

  constructor(rules: RoomVersionRules, auth: ResolveStateOptions = {}) {
    this.rules = rules;
    this.auth = auth;
  }

  /** Creates a room: create, creator's join, power levels, public join rules. */
  static async create(
    rules: RoomVersionRules,
    creator = '@alice:example.com',
    auth: ResolveStateOptions = {},
  ): Promise<TestRoom> {
    const room = new TestRoom(rules, auth);
    await room.add({
      type: 'm.room.create',
      sender: creator,
      state_key: '',
      content: rules.authorization.useRoomCreateSender
        ? { room_version: rules.id }
        : { room_version: rules.id, creator },
    });
    await room.add({
      type: 'm.room.member',
      sender: creator,
      state_key: creator,
      content: { membership: 'join' },
    });
    const users = rules.authorization.explicitlyPrivilegeRoomCreators ? {} : { [creator]: 100 };
    await room.add({
      type: 'm.room.power_levels',
      sender: creator,
      state_key: '',
      content: { users },
    });
    await room.add({
      type: 'm.room.join_rules',
      sender: creator,
      state_key: '',
      content: { join_rule: 'public' },
    });
    return room;
  }

  /** `user` joins (a public room lets anyone in). */
  join(user: string, at: EventPosition = {}): Promise<DagEvent> {
    return this.add({
      type: 'm.room.member',
      sender: user,
      state_key: user,
      content: { membership: 'join' },
      ...at,
    });
  }

  /** `sender` sets the power levels' `users` map (nothing else in the content). */
  setPowerLevels(
    sender: string,
    users: Record<string, number>,
    at: EventPosition = {},
  ): Promise<DagEvent> {
    return this.add({
      type: 'm.room.power_levels',
      sender,
      state_key: '',
      content: { users },
      ...at,
    });
  }

  /** `sender` sets the room topic. */
  setTopic(sender: string, topic: string, at: EventPosition = {}): Promise<DagEvent> {
    return this.add({ type: 'm.room.topic', sender, state_key: '', content: { topic }, ...at });
  }

  /** Adds one event; returns it (with `rejected: true` when it failed authorization). */
  async add(spec: EventSpec): Promise<DagEvent> {
    this.#counter += 1;
    const n = this.#counter;
    const prev = [...(spec.prev ?? [...this.extremities].sort())];
    const before = await stateBeforeEvent(
      this.rules,
      prev.map((id) => this.after.get(id) ?? new Map()),
      this.fetch,
      undefined,
      this.auth,
    );
    const beforeEvents = new Map<StateKey, DagEvent>();
    for (const [key, id] of before) {
      const event = this.byId.get(id);
      if (event !== undefined) beforeEvents.set(key, event);
    }
    const isCreate = spec.type === 'm.room.create';
    const id = `$${String(n).padStart(4, '0')}-${spec.type}${spec.state_key === undefined ? '' : `-${spec.state_key}`}`;
    const draft = {
      type: spec.type,
      sender: spec.sender,
      content: spec.content ?? {},
      ...(spec.state_key === undefined ? {} : { state_key: spec.state_key }),
    };
    const authEvents: string[] = [];
    for (const [type, stateKey] of authEventsSelection(draft, this.rules)) {
      const cited = before.get(stateKeyOf(type, stateKey));
      if (cited !== undefined && !authEvents.includes(cited)) authEvents.push(cited);
    }
    const depth = Math.max(0, ...prev.map((p) => this.byId.get(p)?.depth ?? 0)) + 1;
    let event: DagEvent = {
      event_id: id,
      ...(isCreate && this.rules.eventFormat.createEventHasNoRoomId
        ? {}
        : { room_id: this.roomId }),
      ...draft,
      prev_events: prev,
      auth_events: authEvents,
      depth,
      origin_server_ts: spec.ts ?? n,
    };
    if (isCreate && this.rules.authorization.roomCreateEventIdAsRoomId) {
      this.roomId = `!${id.slice(1)}`;
    }
    if (!checkSoftFail(event, beforeEvents, this.rules, this.auth).allowed) {
      event = { ...event, rejected: true };
    }
    this.events.push(event);
    this.byId.set(id, event);
    this.after.set(id, stateAfterEvent(event, before));
    if (event.rejected !== true) {
      for (const p of prev) this.extremities.delete(p);
      this.extremities.add(id);
    }
    return event;
  }

  /** The state after `eventId`. */
  stateAfter(eventId: string): Map<StateKey, string> {
    const state = this.after.get(eventId);
    if (state === undefined) throw new Error(`no event ${eventId}`);
    return state;
  }
}
