/**
 * The minimal event model the DAG algorithms work on.
 *
 * A server stores far more per event (signatures, hashes, unsigned data); authorization and state
 * resolution need only these fields (spec server-server-api "PDUs"; rooms/v10.md … v12.md
 * "Event format"). Keeping the interface small lets any storage layer hand its own objects in.
 */

/**
 * One room event (PDU) as the DAG algorithms see it.
 *
 * `state_key` is present exactly for state events. `room_id` is absent on room version 12 create
 * events (the room ID is derived from the create event's reference hash, rooms/v12.md).
 * `rejected` marks an event that failed authorization on receipt: it stays in the graph but never
 * counts as state.
 */
export interface DagEvent {
  readonly event_id: string;
  readonly room_id?: string;
  readonly sender: string;
  readonly type: string;
  readonly state_key?: string;
  readonly content: Readonly<Record<string, unknown>>;
  readonly prev_events: readonly string[];
  readonly auth_events: readonly string[];
  readonly depth: number;
  readonly origin_server_ts: number;
  readonly redacts?: string;
  readonly rejected?: boolean;
}

/**
 * One string per `(type, state_key)` pair, usable as a `Map` key.
 *
 * Built by {@link stateKeyOf}; treat it as opaque and take it apart with {@link parseStateKey}.
 */
export type StateKey = string;

/**
 * A room state: `(type, state_key)` → value (an event ID unless stated otherwise).
 */
export type StateMap<T = string> = ReadonlyMap<StateKey, T>;

/**
 * The map key for the pair `(type, stateKey)`.
 *
 * Encoded as `<length of type>:<type><stateKey>`: any character may appear in an event type or
 * state key, so a plain separator could make two different pairs collide; a length prefix cannot.
 */
export function stateKeyOf(type: string, stateKey: string): StateKey {
  return `${type.length}:${type}${stateKey}`;
}

/**
 * The `(type, stateKey)` pair a {@link StateKey} was built from.
 *
 * @throws TypeError when `key` was not produced by {@link stateKeyOf}.
 */
export function parseStateKey(key: StateKey): { type: string; stateKey: string } {
  const colon = key.indexOf(':');
  const length = colon > 0 ? Number(key.slice(0, colon)) : Number.NaN;
  if (!Number.isSafeInteger(length) || length < 0 || colon + 1 + length > key.length) {
    throw new TypeError('parseStateKey: not a key built by stateKeyOf');
  }
  return {
    type: key.slice(colon + 1, colon + 1 + length),
    stateKey: key.slice(colon + 1 + length),
  };
}

/** True when `e` is a state event, i.e. it has a `state_key` (possibly empty). */
export function isStateEvent(e: DagEvent): boolean {
  return typeof e.state_key === 'string';
}
