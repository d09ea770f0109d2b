/**
 * Rejecting an invite to a room this server is not in (spec server-server-api "Leaving Rooms
 * (Rejecting Invites)", https://spec.matrix.org/v1.19/server-server-api/#leaving-rooms-rejecting-invites):
 * 1. `GET /v1/make_leave` from the inviting server, then the room ID's server, through the loop
 *    joins and knocks use (candidate-servers.ts: a 403 is the room's answer and ends it);
 * 2. sign the template as the user's leave and `PUT /v2/send_leave` it there;
 * 3. store the leave locally: the event, the membership, and drop the stored invite state;
 * 4. when no server answers, reject locally with a leave this server signs (`rejectLocally`).
 * A room this server is in is left with an ordinary local leave event instead.
 */
import { MatrixError } from '@weft/transport';

import { loadRoom } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import { candidateServers, throughCandidateServers } from './candidate-servers.ts';
import { remoteInviteState } from './receive-invite.ts';
import { fetchMembershipTemplate, signMembershipTemplate } from './sign-template.ts';
import { insertOwnMembershipOutlier } from './store-own-membership.ts';
import type { FederationDeps } from './types.ts';

/** Rejects `userId`'s remote invite to `roomId`. */
export async function rejectRemoteInvite(
  rooms: RoomService,
  deps: FederationDeps,
  options: {
    readonly roomId: string;
    readonly userId: string;
    readonly reason?: string | undefined;
  },
): Promise<void> {
  const { roomId, userId } = options;
  const invite = await remoteInviteState(rooms, roomId, userId);
  if (invite === undefined) throw MatrixError.forbidden('No pending invite to this room');
  const servers = candidateServers(roomId, [invite.inviterServer], rooms.ctx.config.serverName);
  try {
    await throughCandidateServers(
      rooms.ctx,
      { action: 'leave', roomId },
      servers,
      async (server) => {
        const { rules, template } = await fetchMembershipTemplate(
          deps,
          server,
          'make_leave',
          roomId,
          userId,
        );
        const { signed, eventId } = signMembershipTemplate(rooms, template, {
          rules,
          roomId,
          userId,
          content: {
            membership: 'leave',
            ...(options.reason === undefined ? {} : { reason: options.reason }),
          },
        });
        await deps.request(
          server,
          'PUT',
          `/_matrix/federation/v2/send_leave/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
          signed,
        );
        await storeLeave(rooms, roomId, userId, eventId, signed);
      },
    );
  } catch (error) {
    // A refusal by a reachable server stands (a 403 ends the loop at the first server); a room
    // no server answered for must not trap the user in an invite: reject locally, as Synapse
    // does (the spec leaves this to the server). With no candidate at all (the loop's 404)
    // nothing could be asked either.
    const answered = MatrixError.isInstance(error) && error.status < 500 && servers.length > 0;
    if (answered) throw error;
    rooms.ctx.log.warn('rejecting a remote invite locally', {
      room_id: roomId,
      error: String(error),
    });
    await rejectLocally(rooms, roomId, userId, invite.eventId, options.reason);
  }
}

/** A leave signed by this server that follows the invite; stored here only. */
async function rejectLocally(
  rooms: RoomService,
  roomId: string,
  userId: string,
  inviteEventId: string,
  reason: string | undefined,
): Promise<void> {
  const invite = await rooms.getEvent(inviteEventId);
  const roomVersion = await rooms.roomVersion(roomId);
  if (invite === undefined || roomVersion === undefined) {
    throw MatrixError.forbidden('No pending invite to this room');
  }
  const rules = rulesOf(roomVersion);
  // No resident server answered: the template is ours, built on the invite alone.
  const template = {
    auth_events: [inviteEventId],
    prev_events: [inviteEventId],
    depth: invite.depth + 1,
  };
  const { signed, eventId } = signMembershipTemplate(rooms, template, {
    rules,
    roomId,
    userId,
    content: { membership: 'leave', ...(reason === undefined ? {} : { reason }) },
  });
  await storeLeave(rooms, roomId, userId, eventId, signed);
}

async function storeLeave(
  rooms: RoomService,
  roomId: string,
  userId: string,
  eventId: string,
  pdu: Record<string, unknown>,
): Promise<void> {
  await rooms.ctx.db.transaction(async (tx) => {
    const room = await loadRoom(tx, roomId);
    const position = await insertOwnMembershipOutlier(tx, roomId, userId, eventId, pdu);
    // Announced right after COMMIT, under the write lock: before any later commit is.
    tx.afterCommit(() => rooms.ctx.notifier.notify(position));
    // Only in a room this server is not in: once it is (another local user joined while the
    // rejection was out), the room's current state moves with its state group alone, and the
    // leave reaches it over federation (rooms/current-state-ids.ts relies on that).
    if (room?.currentStateGroup == null) {
      await tx.execute(
        `UPDATE room_current_state SET event_id = $1 WHERE room_id = $2 AND type = 'm.room.member' AND state_key = $3`,
        [eventId, roomId, userId],
      );
    }
    await tx.execute(
      `UPDATE room_memberships SET membership = 'leave', event_id = $1, stream_position = $2
        WHERE room_id = $3 AND user_id = $4`,
      [eventId, position, roomId, userId],
    );
    await tx.execute('DELETE FROM federation_invites WHERE room_id = $1 AND user_id = $2', [
      roomId,
      userId,
    ]);
  });
}
