/**
 * Inviting a user of another server from the client API (spec server-server-api "Inviting to a
 * room", https://spec.matrix.org/v1.19/server-server-api/#inviting-to-a-room):
 * 1. build and sign the invite as any local event (the rules are checked), without storing it;
 * 2. `PUT /v2/invite` it to the invitee's server with the room's stripped state;
 * 3. check the event that comes back is the same event (same event ID) now also signed by the
 *    invitee's server, whose signature must verify;
 * 4. store that doubly signed event as the room's new event (the outbound queue then sends it
 *    to the other servers in the room).
 */
import { computeEventId, type JsonObject, verifyEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { buildEvent } from '../../rooms/create-event.ts';
import { forwardExtremities, loadRoom } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import { keepUncitedExtremities } from './accept-membership.ts';
import { type FederationDeps, serverNameOf, withOwnKey } from './types.ts';

/** Invites remote `target` to local room `roomId` as `sender`. */
export async function inviteRemoteUser(
  rooms: RoomService,
  deps: FederationDeps,
  options: {
    readonly roomId: string;
    readonly sender: string;
    readonly target: string;
    readonly reason?: string | undefined;
    readonly isDirect?: boolean | undefined;
  },
): Promise<void> {
  const { roomId, target } = options;
  const destination = serverNameOf(target);
  const room = await loadRoom(rooms.ctx.db, roomId);
  if (room === undefined) throw MatrixError.forbidden('Unknown room or not a member');
  const rules = rulesOf(room.roomVersion);
  const content: Record<string, unknown> = { membership: 'invite' };
  if (options.reason !== undefined) content['reason'] = options.reason;
  if (options.isDirect === true) content['is_direct'] = true;
  // Step 1 only reads; no write transaction is held across the request to the other server.
  const built = await buildEvent(rooms.ctx.db, rooms.ctx, rooms.events, room, rules, {
    roomId,
    type: 'm.room.member',
    stateKey: target,
    sender: options.sender,
    content,
  });
  const response = await deps.request(
    destination,
    'PUT',
    `/_matrix/federation/v2/invite/${encodeURIComponent(roomId)}/${encodeURIComponent(built.eventId)}`,
    {
      room_version: room.roomVersion,
      event: built.pdu,
      invite_room_state: await rooms.strippedState(roomId),
    },
  );
  const returned = response['event'];
  if (typeof returned !== 'object' || returned === null) {
    throw new MatrixError(502, 'M_UNKNOWN', 'Malformed invite response');
  }
  const signed = returned as Record<string, unknown>;
  const lookup = withOwnKey(rooms.ctx, await deps.keys([signed]));
  const check = verifyEvent(signed as JsonObject, rules.id, lookup, {
    requiredServers: [rooms.ctx.config.serverName, destination],
  });
  if (check.status !== 'valid') {
    throw new MatrixError(502, 'M_UNKNOWN', "The invitee's server returned a bad invite");
  }
  // The reference hash leaves out signatures: the same event keeps its event ID.
  if (computeEventId(signed as JsonObject, rules.id) !== built.eventId)
    throw new MatrixError(502, 'M_UNKNOWN', 'The invite came back changed');

  await rooms.ctx.db.transaction(async (tx) => {
    const current = await loadRoom(tx, roomId);
    if (current === undefined) throw MatrixError.forbidden('Unknown room');
    const extremities = await forwardExtremities(tx, roomId);
    const stored = await rooms.persistBuilt(tx, current, { ...built, pdu: signed });
    const position = stored.streamPosition ?? 0;
    // Announced right after COMMIT, under the write lock: before any later commit is.
    if (position > 0) tx.afterCommit(() => rooms.ctx.notifier.notify(position));
    await keepUncitedExtremities(tx, roomId, extremities, built.dag.prev_events);
  });
}
