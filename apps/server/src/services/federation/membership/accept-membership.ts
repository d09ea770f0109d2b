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
import {
  authEventsSelection,
  checkAuth,
  checkSoftFail,
  type DagEvent,
  stateKeyOf,
} from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../../storage/index.ts';
import { stateMapOf, toDagEvent } from '../../rooms/auth.ts';
import { forwardExtremities, loadRoom } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import { requireServerAllowed } from '../acl.ts';
import type { JoinAnswerPlan } from './join-answer.ts';
import { countersignRestrictedJoin } from './restricted-join.ts';
import { type AcceptedForwarder, type ServerKeyLookup, serverNameOf } from './types.ts';
import { verifyReceivedPdu } from './verify-received.ts';

/**
 * Accepts a signed join, leave or knock from `origin`; returns a join's answer plan (the state
 * IDs fixed in the accepting transaction; `send_join` streams their stored PDU texts after the
 * commit, join-answer.ts), the knock's room state, or `{}` for a leave.
 */
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
  },
): Promise<Record<string, never> | { knock_room_state: unknown[] } | JoinAnswerPlan> {
  const { origin, roomId, membership } = options;
  const room = await loadRoom(rooms.ctx.db, roomId);
  if (room === undefined) throw MatrixError.notFound('Unknown room');
  // Spec "Server Access Control Lists": send_join and send_leave are protected endpoints.
  await requireServerAllowed(rooms.ctx.db, roomId, origin);
  const rules = rulesOf(room.roomVersion);
  // Spec "Joining Rooms" (restricted rooms): a join naming one of this server's users in
  // `join_authorised_via_users_server` is signed here too before the checks, which require it
  // (restricted-join.ts); the answer's `event` is that signed join.
  const event =
    membership === 'join'
      ? await countersignRestrictedJoin(rooms, room, options.event)
      : options.event;
  const lookup = await keys([event]);
  const verified = verifyReceivedPdu(event, rules, lookup);
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
      const position = stored.streamPosition ?? 0;
      // Announced right after COMMIT, under the write lock: before any later commit is.
      if (position > 0) tx.afterCommit(() => rooms.ctx.notifier.notify(position));
      await keepUncitedExtremities(tx, roomId, extremities, dag.prev_events);
      await options.forward?.(tx, stored, origin);
    }
    if (membership !== 'join') return {};
    const plan: JoinAnswerPlan = {
      origin: rooms.ctx.config.serverName,
      event: verified.pdu,
      stateIds: [...stateBefore.values()],
    };
    return plan;
  });
  // Spec "Knocking upon a room": send_knock answers the room's stripped state (read after the
  // commit, from the current state that now holds the knock).
  if (membership === 'knock') return { knock_room_state: await rooms.strippedState(roomId) };
  return result;
}

/**
 * Step 3: the rules against the auth events, then soft failure against the current state.
 * Soft failure judges the event with only the create event and the entries its auth events
 * selection names (spec server-server-api "Auth events selection"; @weft/dag's `checkSoftFail`),
 * so only those current state events are loaded — not the whole state, which for a
 * 30,000-member room was most of the check's time.
 */
async function authorizeReceived(
  tx: SqlExecutor,
  rooms: RoomService,
  event: DagEvent,
  currentState: ReadonlyMap<string, string>,
): Promise<void> {
  const rules = rulesOf((await loadRoom(tx, event.room_id ?? ''))?.roomVersion ?? '');
  const currentIds = [stateKeyOf('m.room.create', '')]
    .concat(authEventsSelection(event, rules).map(([type, key]) => stateKeyOf(type, key)))
    .flatMap((key) => currentState.get(key) ?? []);
  const authIds = [...event.auth_events];
  const loaded = await rooms.events.getMany(tx, [...new Set([...authIds, ...currentIds])], false);
  for (const id of authIds) {
    if (!loaded.has(id)) throw MatrixError.forbidden(`Unknown auth event ${id}`);
  }
  const byId = new Map([...loaded.values()].map((e) => [e.eventId, toDagEvent(e)]));
  const authState = stateMapOf(authIds.flatMap((id) => byId.get(id) ?? []));
  const outcome = checkAuth(event, authState, rules, { authEvent: (id) => byId.get(id) });
  if (!outcome.allowed) throw MatrixError.forbidden(`Event not allowed: ${outcome.detail}`);
  const current = stateMapOf(currentIds.flatMap((id) => byId.get(id) ?? []));
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
