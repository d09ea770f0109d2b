/**
 * Whether a redaction is applied to the event it names. From room version 3 the authorization
 * rules no longer check who may redact what; spec rooms/v11 "Handling redactions"
 * (https://spec.matrix.org/v1.19/rooms/v11/#handling-redactions) leaves it to the server applying
 * it: only when the redaction's sender is of the same server as the redacted event's sender, or
 * has the `redact` power level in the state before the redaction, and not before both events
 * have been seen (and are valid). Local redactions are checked at the API as well
 * (redaction.ts); received ones are checked here when either of the two events arrives
 * (federation/event-handler/persist-remote.ts), and `redacted_by` is only ever set by a
 * redaction that applies — so `redactionWasApplied` is the gate for the other places a
 * redaction reaches (prev-content.ts).
 */
import {
  type DagEvent,
  powerLevelOf,
  type RoomVersionRules,
  type StateMap,
  stateKeyOf,
} from '@weft/dag';

import type { SqlExecutor } from '../../storage/index.ts';
import { toDagEvent } from './auth.ts';
import type { EventStore } from './event-store.ts';
import type { StateStore } from './state-store.ts';
import type { StoredEvent } from './types.ts';

/** Spec default of `m.room.power_levels` `redact`. */
const REDACT_DEFAULT = 50;

/** The event an `m.room.redaction` PDU names (top level before v11, in content from v11). */
export function redactsOfPdu(
  type: string,
  pdu: Readonly<Record<string, unknown>>,
): string | undefined {
  if (type !== 'm.room.redaction') return undefined;
  const top = pdu['redacts'];
  if (typeof top === 'string') return top;
  const content = pdu['content'];
  const inContent =
    typeof content === 'object' && content !== null
      ? (content as Record<string, unknown>)['redacts']
      : undefined;
  return typeof inContent === 'string' ? inContent : undefined;
}

/** The server name of a user ID (everything after the first colon, port included). */
function serverOf(userId: string): string {
  const colon = userId.indexOf(':');
  return colon < 0 ? '' : userId.slice(colon + 1);
}

/**
 * Whether `redaction` applies to `target`: both in one room, and the redaction's sender of the
 * target sender's server or at least at the room's `redact` level in `stateBefore` (the state
 * before the redaction, with its create and power levels events).
 */
export function redactionApplies(
  redaction: { readonly sender: string; readonly roomId: string },
  target: { readonly sender: string; readonly roomId: string },
  stateBefore: StateMap<DagEvent>,
  rules: RoomVersionRules,
): boolean {
  if (redaction.roomId !== target.roomId) return false;
  if (serverOf(redaction.sender) === serverOf(target.sender)) return true;
  const level = stateBefore.get(stateKeyOf('m.room.power_levels', ''))?.content['redact'];
  const required =
    typeof level === 'number' && Number.isSafeInteger(level) ? level : REDACT_DEFAULT;
  return powerLevelOf(redaction.sender, stateBefore, rules) >= required;
}

/** The create and power levels events of a state (what {@link redactionApplies} reads). */
async function powerStateOf(
  tx: SqlExecutor,
  events: EventStore,
  state: StateMap,
): Promise<StateMap<DagEvent>> {
  const keys = [stateKeyOf('m.room.create', ''), stateKeyOf('m.room.power_levels', '')];
  const ids = keys.flatMap((key) => {
    const id = state.get(key);
    return id === undefined ? [] : [id];
  });
  const found = await events.getMany(tx, ids, false);
  const out = new Map<string, DagEvent>();
  for (const key of keys) {
    const event = found.get(state.get(key) ?? '');
    if (event !== undefined) out.set(key, toDagEvent(event));
  }
  return out;
}

/** Sets `target`'s `redacted_by` (inside `tx`) and evicts it from the cache, now and on commit. */
async function markRedacted(
  tx: SqlExecutor,
  events: EventStore,
  redactionId: string,
  targetId: string,
): Promise<void> {
  await tx.execute('UPDATE events SET redacted_by = $1 WHERE event_id = $2', [
    redactionId,
    targetId,
  ]);
  events.evictOnCommit(tx, [targetId]);
}

/**
 * A received redaction just accepted (`redaction`, with `stateBefore` the state before it):
 * applies it to its target if that is stored, not rejected, and {@link redactionApplies}; returns
 * whether it did. A target not stored yet is redacted when it arrives
 * ({@link applyEarlierRedactions}).
 */
export async function applyReceivedRedaction(
  tx: SqlExecutor,
  events: EventStore,
  redaction: StoredEvent,
  stateBefore: StateMap,
  rules: RoomVersionRules,
): Promise<boolean> {
  const targetId = redactsOfPdu(redaction.type, redaction.pdu);
  if (targetId === undefined) return false;
  const target = await tx.queryOne<{ sender: string; room_id: string; rejected: number }>(
    'SELECT sender, room_id, rejected FROM events WHERE event_id = $1',
    [targetId],
  );
  if (target === undefined || Number(target.rejected) === 1) return false;
  const state = await powerStateOf(tx, events, stateBefore);
  if (
    !redactionApplies(redaction, { sender: target.sender, roomId: target.room_id }, state, rules)
  ) {
    return false;
  }
  await markRedacted(tx, events, redaction.eventId, targetId);
  return true;
}

/**
 * The accepted redactions naming an event, oldest first. The room is checked by the caller, not
 * here: with `room_id = $2` in the query SQLite walked the room's (room_id, stream_position)
 * index instead of `events_by_redacts` — a scan of the whole room for every event received over
 * federation (a catch-up of 2,000 events cost the receiver 6 ms of CPU each).
 */
export const EARLIER_REDACTIONS = `SELECT event_id, room_id, state_group FROM events
  WHERE redacts = $1 AND stream_position IS NOT NULL
    AND rejected = 0 AND soft_failed = 0 AND outlier = 0
  ORDER BY stream_position`;

/**
 * A received event just accepted (`target`): the first accepted redaction stored before it that
 * names it and {@link redactionApplies} (judged in the state before that redaction — the state
 * after it, a redaction not being state) is applied now. Returns that redaction, if any.
 */
export async function applyEarlierRedactions(
  tx: SqlExecutor,
  stores: { readonly events: EventStore; readonly states: StateStore },
  target: StoredEvent,
  rules: RoomVersionRules,
): Promise<StoredEvent | undefined> {
  const rows = await tx.query<{ event_id: string; room_id: string; state_group: number | null }>(
    EARLIER_REDACTIONS,
    [target.eventId],
  );
  for (const row of rows) {
    if (row.state_group === null || row.room_id !== target.roomId) continue;
    const redaction = await stores.events.get(tx, row.event_id, false);
    if (redaction === undefined) continue;
    const stateBefore = await stores.states.get(tx, Number(row.state_group), false);
    const state = await powerStateOf(tx, stores.events, stateBefore);
    if (!redactionApplies(redaction, target, state, rules)) continue;
    await markRedacted(tx, stores.events, redaction.eventId, target.eventId);
    return redaction;
  }
  return undefined;
}

/** Whether `redactionId` is what redacted `targetId` (set only for a redaction that applies). */
export async function redactionWasApplied(
  tx: SqlExecutor,
  redactionId: string,
  targetId: string,
): Promise<boolean> {
  const row = await tx.queryOne<{ redacted_by: string | null }>(
    'SELECT redacted_by FROM events WHERE event_id = $1',
    [targetId],
  );
  return row?.redacted_by === redactionId;
}
