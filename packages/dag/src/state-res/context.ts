/**
 * What one state resolution run shares between its steps: the event index, the room version's
 * rules, and memoised per-event facts (create event by room, sender power levels).
 */
import type { CheckAuthOptions } from '../auth/check-auth.ts';
import { powerLevelOf } from '../auth/power-levels.ts';
import type { EventIndex } from '../dag/event-index.ts';
import { type DagEvent, type StateKey, stateKeyOf } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';

export const CREATE_KEY: StateKey = stateKeyOf('m.room.create', '');
export const POWER_LEVELS_KEY: StateKey = stateKeyOf('m.room.power_levels', '');

export class ResolveContext {
  readonly index: EventIndex;
  readonly rules: RoomVersionRules;
  /** v12: room ID → index of the create event it names. */
  readonly #createByRoom = new Map<string, number>();
  /** Memoised sender power levels, keyed by the event's power-levels and create indices. */
  readonly #powerMemo = new Map<string, number>();
  /** Memoised state keys per event index. */
  readonly #keys: (StateKey | undefined)[] = [];

  /** Options for `checkAuth` in the iterative auth checks. */
  readonly authOptions: CheckAuthOptions;

  constructor(index: EventIndex, rules: RoomVersionRules, authOptions: CheckAuthOptions = {}) {
    this.index = index;
    this.rules = rules;
    this.authOptions = authOptions;
  }

  /** The state key of the event at `node` (built once per event). */
  keyOf(node: number, type: string, stateKey: string): StateKey {
    let key = this.#keys[node];
    if (key === undefined) {
      key = stateKeyOf(type, stateKey);
      this.#keys[node] = key;
    }
    return key;
  }

  /**
   * In room versions where the room ID names the create event (v12, rooms/v12.md), the index of
   * that create event for `event`'s room; `undefined` in earlier versions (the create event is
   * then cited in `auth_events`).
   */
  impliedCreateOf(event: DagEvent): number | undefined {
    if (!this.rules.authorization.roomCreateEventIdAsRoomId) return undefined;
    const roomId = event.room_id;
    if (roomId === undefined || !roomId.startsWith('!')) return undefined;
    let create = this.#createByRoom.get(roomId);
    if (create === undefined) {
      create = this.index.intern(`$${roomId.slice(1)}`);
      this.#createByRoom.set(roomId, create);
    }
    return create;
  }

  /** Loads the implied create events of `nodes` (one batch). */
  async loadImpliedCreates(nodes: Iterable<number>): Promise<void> {
    if (!this.rules.authorization.roomCreateEventIdAsRoomId) return;
    const creates: number[] = [];
    for (const node of nodes) {
      const event = this.index.events[node];
      const create = event === undefined ? undefined : this.impliedCreateOf(event);
      if (create !== undefined) creates.push(create);
    }
    await this.index.load(creates);
  }

  /**
   * The power level of the event's sender "when looking at [its] auth_events" (spec
   * rooms/fragments/v2-state-res.md "Reverse topological power ordering"): the level the
   * authorization rules would compute from the state formed by the event's auth events (plus,
   * in v12, the create event its room ID names, so creators rank above every integer).
   */
  senderPowerAt(node: number): number {
    const event = this.index.events[node];
    if (event === undefined) return 0;
    const state = new Map<StateKey, DagEvent>();
    let powerLevels = -1;
    let create = -1;
    for (const auth of this.index.authOf(node)) {
      const authEvent = this.index.events[auth];
      if (authEvent === undefined || typeof authEvent.state_key !== 'string') continue;
      const key = this.keyOf(auth, authEvent.type, authEvent.state_key);
      if (key === POWER_LEVELS_KEY) powerLevels = auth;
      else if (key === CREATE_KEY) create = auth;
      else continue;
      state.set(key, authEvent);
    }
    const implied = this.impliedCreateOf(event);
    if (implied !== undefined && create === -1) {
      const createEvent = this.index.events[implied];
      if (createEvent !== undefined) {
        state.set(CREATE_KEY, createEvent);
        create = implied;
      }
    }
    const memoKey = `${powerLevels}|${create}|${event.sender}`;
    let level = this.#powerMemo.get(memoKey);
    if (level === undefined) {
      level = powerLevelOf(event.sender, state, this.rules);
      this.#powerMemo.set(memoKey, level);
    }
    return level;
  }
}
