/**
 * Building a local PDU (spec server-server-api "PDUs" and rooms/v10–v12 "Event format"):
 * `prev_events` = the room's forward extremities, `auth_events` = @weft/dag's
 * `authEventsSelection` over the current state, `depth` = one more than the deepest prev event,
 * then @weft/signing's `signEventWithId` (content hash + signature, and the reference hash as
 * the event ID, from one encoding). The event is authorized before anything is stored.
 */
import {
  authEventsSelection,
  checkPduFormat,
  DagError,
  type DagEvent,
  type RoomVersionRules,
  stateKeyOf,
} from '@weft/dag';
import { signEventWithId } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { authorizeLocalEvent, dagStateOf } from './auth.ts';
import type { CurrentStateIdsCache } from './current-state-ids.ts';
import type { EventStore } from './event-store.ts';
import { currentStateEventIds, forwardExtremities, type RoomRow } from './room-store.ts';

/** What a local user asks to send. */
export interface EventDraft {
  readonly roomId: string;
  readonly type: string;
  /** Present exactly for state events. */
  readonly stateKey?: string;
  readonly sender: string;
  readonly content: Readonly<Record<string, unknown>>;
  /** For `m.room.redaction`: the redacted event (top-level before v11, in content from v11). */
  readonly redacts?: string;
}

/** A signed, authorized event ready to persist. */
export interface BuiltEvent {
  readonly eventId: string;
  readonly pdu: Record<string, unknown>;
  readonly dag: DagEvent;
}

/** The largest depth the spec allows (server-server-api "PDUs": depth ≤ 2^53 − 1). */
const MAX_DEPTH = Number.MAX_SAFE_INTEGER;

/**
 * Builds, signs and authorizes `draft` against `room`'s current state as `tx` sees it. Inside a
 * write transaction that read `room`, pass `stateIds` (the rooms service's cache of the current
 * state's IDs); a build outside one reads the state itself (its room row and state reads are
 * separate snapshots, which must not be kept as one).
 */
export async function buildEvent(
  tx: SqlExecutor,
  ctx: ServerContext,
  events: EventStore,
  room: RoomRow,
  rules: RoomVersionRules,
  draft: EventDraft,
  stateIds?: CurrentStateIdsCache,
): Promise<BuiltEvent> {
  const selection = authEventsSelection(
    {
      type: draft.type,
      sender: draft.sender,
      content: draft.content,
      ...(draft.stateKey !== undefined ? { state_key: draft.stateKey } : {}),
    },
    rules,
  );
  const keys: (readonly [string, string])[] = [['m.room.create', ''], ...selection];
  const ids =
    stateIds === undefined
      ? await currentStateEventIds(tx, room.roomId, keys)
      : await stateIds.lookup(tx, room, keys);
  const currentState = await dagStateOf(tx, events, ids);
  const authEventIds = selection.flatMap(([type, stateKey]) => {
    const event = currentState.get(stateKeyOf(type, stateKey));
    return event === undefined ? [] : [event.event_id];
  });
  const prevEvents = await forwardExtremities(tx, room.roomId);
  const pdu: Record<string, unknown> = {
    auth_events: authEventIds,
    content: draft.content,
    depth: Math.min(room.maxDepth + 1, MAX_DEPTH),
    origin: ctx.config.serverName,
    origin_server_ts: ctx.now(),
    prev_events: prevEvents,
    room_id: room.roomId,
    sender: draft.sender,
    type: draft.type,
  };
  if (draft.stateKey !== undefined) pdu['state_key'] = draft.stateKey;
  if (draft.redacts !== undefined && !rules.eventFormat.redactsInContent) {
    pdu['redacts'] = draft.redacts;
  }
  const { signed, eventId, dag } = signChecked(ctx, rules, pdu);
  const authEvents = new Map<string, DagEvent>();
  for (const event of currentState.values()) authEvents.set(event.event_id, event);
  authorizeLocalEvent(dag, authEvents, currentState, rules);
  return { eventId, pdu: signed, dag };
}

/**
 * Builds a room's create event (rooms/v12 "Room IDs": in v12 the room ID is derived from the
 * create event, which has no `room_id`, `prev_events` empty and no auth events).
 */
export function buildCreateEvent(
  ctx: ServerContext,
  rules: RoomVersionRules,
  roomId: string | undefined,
  sender: string,
  content: Readonly<Record<string, unknown>>,
): BuiltEvent {
  const pdu: Record<string, unknown> = {
    auth_events: [],
    content,
    depth: 1,
    origin: ctx.config.serverName,
    origin_server_ts: ctx.now(),
    prev_events: [],
    sender,
    state_key: '',
    type: 'm.room.create',
  };
  if (roomId !== undefined) pdu['room_id'] = roomId;
  const { signed, eventId, dag } = signChecked(ctx, rules, pdu);
  authorizeLocalEvent(dag, new Map(), new Map(), rules);
  return { eventId, pdu: signed, dag };
}

/**
 * Signs `pdu`, computes its event ID and runs @weft/dag's PDU format checks on the result, so a
 * local event is held to the same shape as a received one (client-server-api "Size limits":
 * 64 KiB per event, 255 bytes per type, state key and ID).
 */
function signChecked(
  ctx: ServerContext,
  rules: RoomVersionRules,
  pdu: Record<string, unknown>,
): { signed: Record<string, unknown>; eventId: string; dag: DagEvent } {
  // One redaction and encoding for the content hash, the signature, the event ID and the size.
  const {
    event: signed,
    eventId,
    canonicalBytes,
  } = signEventWithId(pdu, rules.id, ctx.config.serverName, ctx.signingKey);
  try {
    // The size comes from the signing's encoding, not a third one.
    checkPduFormat(signed, rules, { eventId, canonicalBytes });
  } catch (error) {
    if (DagError.isInstance(error)) {
      if (error.code === 'event-too-large')
        throw MatrixError.tooLarge('The event is larger than 64 KiB');
      throw MatrixError.badJson(`Invalid event: ${error.message}`);
    }
    throw error;
  }
  return { signed, eventId, dag: { ...(signed as unknown as DagEvent), event_id: eventId } };
}

/** 403 unless the room exists. */
export function requireRoom(room: RoomRow | undefined): RoomRow {
  if (room === undefined) throw MatrixError.forbidden('Unknown room or not a member');
  return room;
}
