/**
 * Authorization of locally created events (spec server-server-api "Checks performed on receipt
 * of a PDU", steps 4 and 6, applied to our own events before they are stored): the rules of
 * @weft/dag `checkAuth` against the event's auth events, then `checkSoftFail` against the current
 * state. A local event that fails either is refused (403 M_FORBIDDEN), never stored.
 */
import {
  checkAuth,
  checkSoftFail,
  type DagEvent,
  type RoomVersionRules,
  stateKeyOf,
} from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { EventStore } from './event-store.ts';
import type { StoredEvent } from './types.ts';

/** The DAG view of a stored event. */
export function toDagEvent(event: StoredEvent): DagEvent {
  return { ...(event.pdu as unknown as DagEvent), event_id: event.eventId };
}

/** The events of `ids` (state key → event ID) as a DAG state map; IDs not stored are left out. */
export async function dagStateOf(
  db: SqlExecutor,
  events: EventStore,
  ids: ReadonlyMap<string, string>,
): Promise<Map<string, DagEvent>> {
  const loaded = await events.getMany(db, [...ids.values()], false);
  const state = new Map<string, DagEvent>();
  for (const [key, id] of ids) {
    const event = loaded.get(id);
    if (event !== undefined) state.set(key, toDagEvent(event));
  }
  return state;
}

/** A state map (`stateKeyOf` → event) of the given events. */
export function stateMapOf(events: Iterable<DagEvent>): Map<string, DagEvent> {
  const map = new Map<string, DagEvent>();
  for (const event of events) {
    if (event.state_key !== undefined) map.set(stateKeyOf(event.type, event.state_key), event);
  }
  return map;
}

/**
 * Throws 403 M_FORBIDDEN unless `event` passes the authorization rules against its auth events
 * and against `currentState` (which must hold at least the event's auth events selection and the
 * create event).
 */
export function authorizeLocalEvent(
  event: DagEvent,
  authEvents: ReadonlyMap<string, DagEvent>,
  currentState: ReadonlyMap<string, DagEvent>,
  rules: RoomVersionRules,
): void {
  const create = currentState.get(stateKeyOf('m.room.create', ''));
  const lookup = (id: string): DagEvent | undefined =>
    authEvents.get(id) ?? (create?.event_id === id ? create : undefined);
  const authState = stateMapOf(event.auth_events.flatMap((id) => authEvents.get(id) ?? []));
  const outcome = checkAuth(event, authState, rules, { authEvent: lookup });
  if (!outcome.allowed) throw MatrixError.forbidden(`Event not allowed: ${outcome.detail}`);
  const soft = checkSoftFail(event, currentState, rules);
  if (!soft.allowed) throw MatrixError.forbidden(`Event not allowed: ${soft.detail}`);
}
