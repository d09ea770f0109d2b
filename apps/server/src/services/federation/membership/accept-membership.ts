/**
 * The resident server's half of `send_join` / `send_leave` (v2) (spec server-server-api
 * https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2send_joinroomideventid
 * and "Leaving Rooms"): the joining server hands back the template it signed; this server
 * 1. checks it is the membership event it asked for (room, type, sender = state key on the
 *    calling server, membership, event ID = path);
 * 2. verifies format, signature and hashes (verify-received.ts);
 * 3. authorizes it against its auth events (rule 3 included) and soft-fail-checks it against the
 *    current state, as for any PDU on receipt;
 * 4. persists it as a new event of the room — keeping forward extremities the event did not
 *    cite — and, in the same transaction, queues it for the room's other servers: "the resident
 *    server will then send the event to other servers in the room" (the joining server does not
 *    fan its join out itself, see remote-join.ts);
 * 5. for a join, answers the room state before the event and its auth chain, as PDUs.
 */
import { authChain, checkAuth, checkSoftFail, type DagEvent, stateKeyOf } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../../storage/index.ts';
import { stateMapOf, toDagEvent } from '../../rooms/auth.ts';
import { forwardExtremities, loadRoom } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import type { StoredEvent } from '../../rooms/types.ts';
import { requireServerAllowed } from '../acl.ts';
import { type AcceptedForwarder, type ServerKeyLookup, serverNameOf } from './types.ts';
import { verifyReceivedPdu } from './verify-received.ts';

/** The body of a `send_join` v2 response. */
export interface SendJoinResponse {
  readonly origin: string;
  readonly event: Record<string, unknown>;
  readonly state: Record<string, unknown>[];
  readonly auth_chain: Record<string, unknown>[];
  readonly members_omitted: false;
}

/** Accepts a signed join or leave from `origin`; returns the `send_join` body (`{}` for leave). */
export async function acceptMembership(
  rooms: RoomService,
  keys: ServerKeyLookup,
  options: {
    readonly origin: string;
    readonly roomId: string;
    readonly eventId: string;
    readonly membership: 'join' | 'leave' | 'knock';
    readonly event: unknown;
    /** The resident server's forwarding to the room's other servers. */
    readonly forward?: AcceptedForwarder | undefined;
    /**
     * Builds a join's answer instead of {@link joinResponse} (same transaction, same state):
     * `send_join` answers with stored PDU texts (join-answer.ts).
     */
    readonly answerJoin?: (
      tx: SqlExecutor,
      event: Record<string, unknown>,
      stateIds: readonly string[],
    ) => Promise<object>;
  },
): Promise<SendJoinResponse | Record<string, never> | { knock_room_state: unknown[] } | object> {
  const { origin, roomId, membership } = options;
  const room = await loadRoom(rooms.ctx.db, roomId);
  if (room === undefined) throw MatrixError.notFound('Unknown room');
  // Spec "Server Access Control Lists": send_join and send_leave are protected endpoints.
  await requireServerAllowed(rooms.ctx.db, roomId, origin);
  const rules = rulesOf(room.roomVersion);
  const lookup = await keys([options.event]);
  const verified = verifyReceivedPdu(options.event, rules, lookup);
  const { dag } = verified;
  if (verified.eventId !== options.eventId) {
    throw MatrixError.badJson('The event ID does not match the event');
  }
  if (
    dag.room_id !== roomId ||
    dag.type !== 'm.room.member' ||
    dag.state_key !== dag.sender ||
    dag.content['membership'] !== membership
  ) {
    throw MatrixError.badJson(`Not a ${membership} event of this room for its sender`);
  }
  if (serverNameOf(dag.sender) !== origin) {
    throw MatrixError.forbidden('The user does not belong to the requesting server');
  }

  let position = 0;
  const result = await rooms.ctx.db.transaction(async (tx) => {
    const current = await loadRoom(tx, roomId);
    if (current === undefined) throw MatrixError.notFound('Unknown room');
    const already = await rooms.events.get(tx, verified.eventId, false);
    const stateBefore =
      current.currentStateGroup === null
        ? new Map<string, string>()
        : await rooms.states.get(tx, current.currentStateGroup);
    if (already === undefined) {
      await authorizeReceived(tx, rooms, dag, stateBefore);
      const extremities = await forwardExtremities(tx, roomId);
      const stored = await rooms.persistBuilt(tx, current, verified);
      position = stored.streamPosition ?? 0;
      await keepUncitedExtremities(tx, roomId, extremities, dag.prev_events);
      await options.forward?.(tx, stored, origin);
    }
    if (membership !== 'join') return {};
    if (options.answerJoin) return options.answerJoin(tx, verified.pdu, [...stateBefore.values()]);
    return joinResponse(tx, rooms, verified.pdu, [...stateBefore.values()]);
  });
  if (position > 0) rooms.ctx.notifier.notify(position);
  // Spec "Knocking upon a room": send_knock answers the room's stripped state (read after the
  // commit, from the current state that now holds the knock).
  if (membership === 'knock') return { knock_room_state: await rooms.strippedState(roomId) };
  return result;
}

/** Step 3: the rules against the auth events, then soft failure against the current state. */
async function authorizeReceived(
  tx: SqlExecutor,
  rooms: RoomService,
  event: DagEvent,
  currentState: ReadonlyMap<string, string>,
): Promise<void> {
  const rules = rulesOf((await loadRoom(tx, event.room_id ?? ''))?.roomVersion ?? '');
  const createId = currentState.get(stateKeyOf('m.room.create', ''));
  const authIds = [...event.auth_events];
  const loaded = await rooms.events.getMany(
    tx,
    createId === undefined ? authIds : [...authIds, createId],
    false,
  );
  for (const id of authIds) {
    if (!loaded.has(id)) throw MatrixError.forbidden(`Unknown auth event ${id}`);
  }
  const byId = new Map([...loaded.values()].map((e) => [e.eventId, toDagEvent(e)]));
  const authState = stateMapOf(authIds.flatMap((id) => byId.get(id) ?? []));
  const outcome = checkAuth(event, authState, rules, { authEvent: (id) => byId.get(id) });
  if (!outcome.allowed) throw MatrixError.forbidden(`Event not allowed: ${outcome.detail}`);
  const currentEvents = await rooms.events.getMany(tx, [...currentState.values()], false);
  const current = stateMapOf([...currentEvents.values()].map(toDagEvent));
  const soft = checkSoftFail(event, current, rules);
  if (!soft.allowed) throw MatrixError.forbidden(`Event not allowed: ${soft.detail}`);
}

/**
 * `persistBuilt` makes the new event the room's only forward extremity (right for local events,
 * which cite them all); a received event may cite fewer, so the others stay extremities.
 */
export async function keepUncitedExtremities(
  tx: SqlExecutor,
  roomId: string,
  before: readonly string[],
  cited: readonly string[],
): Promise<void> {
  const citedSet = new Set(cited);
  for (const id of before) {
    if (citedSet.has(id)) continue;
    await tx.execute(
      `INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2)
       ON CONFLICT (room_id, event_id) DO NOTHING`,
      [roomId, id],
    );
  }
}

/** Step 5: the state before the join and the auth chain of it and the join, as PDUs. */
async function joinResponse(
  tx: SqlExecutor,
  rooms: RoomService,
  event: Record<string, unknown>,
  stateIds: readonly string[],
): Promise<SendJoinResponse> {
  const fetch = async (ids: readonly string[]): Promise<DagEvent[]> =>
    [...(await rooms.events.getMany(tx, ids, false)).values()].map(toDagEvent);
  const authEvents = (event['auth_events'] as string[] | undefined) ?? [];
  const chainIds = await authChain([...stateIds, ...authEvents], fetch);
  for (const id of authEvents) chainIds.add(id);
  const state = await rooms.events.getMany(tx, stateIds, false);
  const chain = await rooms.events.getMany(tx, [...chainIds], false);
  return {
    origin: rooms.ctx.config.serverName,
    event,
    state: [...state.values()].map(federationPdu),
    auth_chain: [...chain.values()].map(federationPdu),
    members_omitted: false,
  };
}

/** A stored event as federation sends it: the PDU exactly as signed. */
export function federationPdu(event: StoredEvent): Record<string, unknown> {
  return { ...event.pdu };
}
