/**
 * A deterministic room shaped like Matrix HQ (#matrix:matrix.org): tens of thousands of state
 * events, 99% of them memberships, a power-levels history a few entries long, and forks whose
 * conflicted state sets have a chosen size. Used by the benchmarks only.
 */
import { type DagEvent, type RoomVersionRules, type StateKey, stateKeyOf } from '../src/index.ts';

export interface HqRoom {
  readonly rules: RoomVersionRules;
  readonly events: DagEvent[];
  /** The state after the last event. */
  readonly state: Map<StateKey, string>;
  /** The last event (the fork point). */
  readonly tip: string;
  readonly memberIds: readonly string[];
}

export interface HqFork {
  readonly events: DagEvent[];
  readonly stateA: Map<StateKey, string>;
  readonly stateB: Map<StateKey, string>;
}

const ALICE = '@alice:matrix.org';
const MODS = Array.from({ length: 20 }, (_, i) => `@mod${i}:matrix.org`);

class Builder {
  readonly rules: RoomVersionRules;
  readonly events: DagEvent[] = [];
  readonly state = new Map<StateKey, string>();
  readonly roomId: string;
  readonly createId: string;
  tip = '';
  depth = 0;
  ts = 1_500_000_000_000;

  constructor(rules: RoomVersionRules, prefix: string, state?: Map<StateKey, string>, tip = '') {
    this.rules = rules;
    this.createId = '$hq-create';
    this.roomId = rules.authorization.roomCreateEventIdAsRoomId ? '!hq-create' : '!hq:matrix.org';
    this.prefix = prefix;
    if (state !== undefined) for (const [k, v] of state) this.state.set(k, v);
    this.tip = tip;
  }

  readonly prefix: string;
  #n = 0;

  /** Cites the current state entries the auth events selection names. */
  authFor(type: string, sender: string, stateKey?: string, membership?: string): string[] {
    const wanted: StateKey[] = [];
    if (!this.rules.authorization.roomCreateEventIdAsRoomId)
      wanted.push(stateKeyOf('m.room.create', ''));
    wanted.push(stateKeyOf('m.room.power_levels', ''), stateKeyOf('m.room.member', sender));
    if (type === 'm.room.member' && stateKey !== undefined) {
      wanted.push(stateKeyOf('m.room.member', stateKey));
      if (membership === 'join' || membership === 'invite')
        wanted.push(stateKeyOf('m.room.join_rules', ''));
    }
    const out: string[] = [];
    for (const key of wanted) {
      const id = this.state.get(key);
      if (id !== undefined && !out.includes(id)) out.push(id);
    }
    return out;
  }

  add(
    type: string,
    sender: string,
    stateKey: string | undefined,
    content: Record<string, unknown>,
    id?: string,
  ): DagEvent {
    this.#n += 1;
    this.depth += 1;
    this.ts += 1;
    const eventId = id ?? `$${this.prefix}${this.#n}`;
    const isCreate = type === 'm.room.create';
    const event: DagEvent = {
      event_id: eventId,
      ...(isCreate && this.rules.eventFormat.createEventHasNoRoomId
        ? {}
        : { room_id: this.roomId }),
      sender,
      type,
      ...(stateKey === undefined ? {} : { state_key: stateKey }),
      content,
      prev_events: this.tip === '' ? [] : [this.tip],
      auth_events: isCreate
        ? []
        : this.authFor(type, sender, stateKey, content['membership'] as string),
      depth: this.depth,
      origin_server_ts: this.ts,
    };
    this.events.push(event);
    if (stateKey !== undefined) this.state.set(stateKeyOf(type, stateKey), eventId);
    this.tip = eventId;
    return event;
  }
}

function powerLevels(rules: RoomVersionRules, extra: Record<string, number> = {}) {
  const users: Record<string, number> = { ...extra };
  if (!rules.authorization.explicitlyPrivilegeRoomCreators) users[ALICE] = 100;
  for (const mod of MODS) users[mod] = 50;
  return { users, kick: 50, ban: 50, state_default: 50, events_default: 0 };
}

/**
 * Builds the room: create, the creator's join, power levels, join rules, ~1% other state
 * (name, topic, widgets, …), then `members` joins with a new power-levels event every 3,000
 * joins, all on one linear chain of prev events.
 */
export function buildHqRoom(rules: RoomVersionRules, members = 29_700): HqRoom {
  const b = new Builder(rules, 'hq');
  b.add(
    'm.room.create',
    ALICE,
    '',
    rules.authorization.useRoomCreateSender
      ? { room_version: rules.id }
      : { room_version: rules.id, creator: ALICE },
    '$hq-create',
  );
  b.add('m.room.member', ALICE, ALICE, { membership: 'join' });
  b.add('m.room.power_levels', ALICE, '', powerLevels(rules));
  b.add('m.room.join_rules', ALICE, '', { join_rule: 'public' });
  b.add('m.room.history_visibility', ALICE, '', { history_visibility: 'shared' });
  b.add('m.room.name', ALICE, '', { name: 'Matrix HQ' });
  for (const mod of MODS) b.add('m.room.member', mod, mod, { membership: 'join' });
  const otherState = Math.round(members / 100);
  for (let i = 0; i < otherState; i += 1) {
    b.add('im.vector.modular.widgets', ALICE, `widget-${i}`, { url: `https://example.org/${i}` });
  }
  const memberIds: string[] = [];
  for (let i = 0; i < members; i += 1) {
    const user = `@u${i}:s${i % 997}.example.org`;
    memberIds.push(user);
    b.add('m.room.member', user, user, { membership: 'join', displayname: `user ${i}` });
    if (i % 3000 === 2999)
      b.add(
        'm.room.power_levels',
        ALICE,
        '',
        powerLevels(rules, { [`@u${i}:s${i % 997}.example.org`]: 1 }),
      );
  }
  return { rules, events: b.events, state: new Map(b.state), tip: b.tip, memberIds };
}

/**
 * Two branches from the room's tip whose states conflict on about `conflicts / 2` keys (so the
 * conflicted state set holds about `conflicts` events: the old and the new event of each key).
 * Branch A changes display names; branch B starts with a power-levels change, then members
 * leave and moderators kick (power events) every 100th change.
 */
export function forkHqRoom(room: HqRoom, conflicts: number, label = 'f'): HqFork {
  const changes = Math.max(1, Math.floor(conflicts / 4));
  const a = new Builder(room.rules, `${label}a`, room.state, room.tip);
  const b = new Builder(room.rules, `${label}b`, room.state, room.tip);
  a.depth = b.depth = room.events.length;
  a.ts = b.ts = 1_500_000_000_000 + room.events.length;
  b.add('m.room.power_levels', ALICE, '', powerLevels(room.rules, { '@new-admin:matrix.org': 10 }));
  for (let k = 0; k < changes; k += 1) {
    const userA = room.memberIds[(2 * k) % room.memberIds.length] as string;
    a.add('m.room.member', userA, userA, { membership: 'join', displayname: `renamed ${k}` });
    const userB = room.memberIds[(2 * k + 1) % room.memberIds.length] as string;
    if (k % 100 === 0) {
      const mod = MODS[k % MODS.length] as string;
      b.add('m.room.member', mod, userB, { membership: 'leave', reason: 'spam' });
    } else {
      b.add('m.room.member', userB, userB, { membership: 'leave' });
    }
  }
  return { events: [...a.events, ...b.events], stateA: a.state, stateB: b.state };
}
