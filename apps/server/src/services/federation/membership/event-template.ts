/**
 * The resident server's half of `make_join` / `make_leave` (spec server-server-api "Joining
 * Rooms" and "Leaving Rooms",
 * https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1make_joinroomiduserid):
 * an unsigned membership event for a remote user that the user's server signs and hands back
 * through `send_join` / `send_leave`. `prev_events` are the room's forward extremities,
 * `auth_events` @weft/dag's `authEventsSelection` over the current state, and the template is
 * checked against the authorization rules first so a join the room would refuse fails here with
 * 403 instead of after a round trip.
 */
import {
  authEventsSelection,
  checkAuth,
  type DagEvent,
  type RoomVersionRules,
  stateKeyOf,
} from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../../storage/index.ts';
import { stateMapOf, toDagEvent } from '../../rooms/auth.ts';
import { currentStateEventIds, forwardExtremities, loadRoom } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import { restrictedJoinAuthoriser } from './restricted-join.ts';
import { serverNameOf } from './types.ts';

/**
 * A user ID's shape (spec appendices "User Identifiers"): `@`, a non-empty localpart without
 * `:` (historical ones allow most printable characters), `:`, a server name.
 */
const USER_ID = /^@[^:\s]+:[A-Za-z0-9.\-[\]:]+$/;

/** The body of a `make_join` / `make_leave` response. */
export type MembershipTemplate = {
  readonly room_version: string;
  readonly event: Record<string, unknown>;
};

/**
 * Builds the template of `userId`'s `membership` event in `roomId` for `origin`.
 * - 400 `M_INVALID_PARAM`: `userId` is not a user ID.
 * - 404 `M_NOT_FOUND`: this server does not know the room.
 * - 403 `M_FORBIDDEN`: the user is not on `origin`, or the rules would refuse the event.
 * - 400 `M_INCOMPATIBLE_ROOM_VERSION` (join, knock): the room's version is not in `versions`.
 * - 400 `M_UNABLE_TO_AUTHORISE_JOIN` / `M_UNABLE_TO_GRANT_JOIN`, 403 (join to a restricted
 *   room): see restricted-join.ts.
 */
export async function membershipTemplate(
  rooms: RoomService,
  options: {
    readonly origin: string;
    readonly roomId: string;
    readonly userId: string;
    readonly membership: 'join' | 'leave' | 'knock';
    /**
     * The `ver` query parameters of `make_join` / `make_knock` (room versions the joining or
     * knocking server supports).
     */
    readonly versions?: readonly string[];
  },
): Promise<MembershipTemplate> {
  const { origin, roomId, userId, membership } = options;
  // Spec appendices "User Identifiers": `@localpart:domain`, at most 255 bytes; anything else
  // is a bad parameter (400), not a server error from serverNameOf.
  if (!USER_ID.test(userId) || new TextEncoder().encode(userId).length > 255) {
    throw MatrixError.invalidParam('user_id: not a valid user ID');
  }
  if (serverNameOf(userId) !== origin) {
    throw MatrixError.forbidden('The user does not belong to the requesting server');
  }
  const db = rooms.ctx.db;
  const room = await loadRoom(db, roomId);
  if (room === undefined || room.currentStateGroup === null) {
    throw MatrixError.notFound('Unknown room');
  }
  const versions = options.versions ?? ['1'];
  if (membership !== 'leave' && !versions.includes(room.roomVersion)) {
    throw new MatrixError(
      400,
      'M_INCOMPATIBLE_ROOM_VERSION',
      `The room's version ${room.roomVersion} is not supported by the joining server`,
      { extra: { room_version: room.roomVersion } },
    );
  }
  const rules = rulesOf(room.roomVersion);
  const content: Record<string, unknown> = { membership };
  if (membership === 'join') {
    // Spec "Joining Rooms" → make_join for a restricted / knock_restricted room: the template
    // names a local user who can invite, or make_join answers why not (restricted-join.ts).
    const via = await restrictedJoinAuthoriser(rooms, db, room, userId);
    if (via !== undefined) content['join_authorised_via_users_server'] = via;
  }
  const { authEventIds, state } = await authEventsFor(db, rooms, rules, roomId, {
    type: 'm.room.member',
    sender: userId,
    state_key: userId,
    content,
  });
  const event: Record<string, unknown> = {
    auth_events: authEventIds,
    content,
    depth: room.maxDepth + 1,
    origin: rooms.ctx.config.serverName,
    origin_server_ts: rooms.ctx.now(),
    prev_events: await forwardExtremities(db, roomId),
    room_id: roomId,
    sender: userId,
    state_key: userId,
    type: 'm.room.member',
  };
  // The template has no event ID yet; the rules never read it for a member event.
  const probe = { ...(event as unknown as DagEvent), event_id: '$template' };
  const outcome = checkAuth(probe, state, rules, {
    authEvent: (id) => [...state.values()].find((e) => e.event_id === id),
  });
  if (!outcome.allowed) throw MatrixError.forbidden(`The room refuses this ${membership}`);
  return { room_version: room.roomVersion, event };
}

/** The auth event IDs of a would-be event and the current state entries they were chosen from. */
export async function authEventsFor(
  db: SqlExecutor,
  rooms: RoomService,
  rules: RoomVersionRules,
  roomId: string,
  event: Pick<DagEvent, 'type' | 'sender' | 'content'> & { readonly state_key?: string },
): Promise<{ authEventIds: string[]; state: Map<string, DagEvent> }> {
  const selection = authEventsSelection(event, rules);
  const ids = await currentStateEventIds(db, roomId, [['m.room.create', ''], ...selection]);
  const loaded = await rooms.events.getMany(db, [...ids.values()], false);
  const state = stateMapOf([...loaded.values()].map(toDagEvent));
  const authEventIds = selection.flatMap(([type, stateKey]) => {
    const found = state.get(stateKeyOf(type, stateKey));
    return found === undefined ? [] : [found.event_id];
  });
  return { authEventIds, state };
}
