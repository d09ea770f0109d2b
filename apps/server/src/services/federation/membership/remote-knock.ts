/**
 * Knocking on a room this server is not in (spec server-server-api "Knocking upon a room",
 * https://spec.matrix.org/v1.19/server-server-api/#knocking-upon-a-room):
 * 1. `GET /v1/make_knock` (with every room version this server supports) from the `via` servers,
 *    then the room ID's server, in the same loop as a join (candidate-servers.ts: a 403 is the
 *    room's answer and ends it);
 * 2. sign the template as the user's knock and `PUT /v1/send_knock` it there;
 * 3. store the knock: the event (an outlier with a stream position, so `/sync` reports it), the
 *    membership, and the `knock_room_state` the resident server answered — kept with remote
 *    invites' state (`federation_invites`), so `/sync` shows it as `knock_state`, an invite that
 *    follows replaces it, and withdrawing goes through the same server as rejecting an invite.
 */
import { cleanProfile } from '../../rooms/create-room.ts';
import { loadRoom } from '../../rooms/room-store.ts';
import type { RoomService } from '../../rooms/service.ts';
import { candidateServers, throughCandidateServers } from './candidate-servers.ts';
import { fetchMembershipTemplate, signMembershipTemplate } from './sign-template.ts';
import { insertOwnMembershipOutlier } from './store-own-membership.ts';
import type { FederationDeps } from './types.ts';

/** Knocks as local `userId` on `roomId` through one of `via`; returns the room ID. */
export async function knockRemoteRoom(
  rooms: RoomService,
  deps: FederationDeps,
  options: {
    readonly roomId: string;
    readonly userId: string;
    readonly via: readonly string[];
    readonly reason?: string | undefined;
  },
): Promise<string> {
  const { roomId, userId } = options;
  const servers = candidateServers(roomId, options.via, rooms.ctx.config.serverName);
  await throughCandidateServers(rooms.ctx, { action: 'knock', roomId }, servers, async (server) => {
    const { roomVersion, rules, template } = await fetchMembershipTemplate(
      deps,
      server,
      'make_knock',
      roomId,
      userId,
    );
    const profile = cleanProfile(await rooms.profileOf(rooms.ctx.db, userId));
    const { signed, eventId } = signMembershipTemplate(rooms, template, {
      rules,
      roomId,
      userId,
      content: {
        membership: 'knock',
        ...profile,
        ...(options.reason === undefined ? {} : { reason: options.reason }),
      },
    });
    const answer = await deps.request(
      server,
      'PUT',
      `/_matrix/federation/v1/send_knock/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`,
      signed,
    );
    const rawState = answer['knock_room_state'];
    const state = Array.isArray(rawState)
      ? rawState.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      : [];
    await storeKnock(rooms, { roomId, userId, roomVersion, server, eventId, pdu: signed, state });
  });
  return roomId;
}

async function storeKnock(
  rooms: RoomService,
  knock: {
    readonly roomId: string;
    readonly userId: string;
    readonly roomVersion: string;
    readonly server: string;
    readonly eventId: string;
    readonly pdu: Record<string, unknown>;
    readonly state: readonly Record<string, unknown>[];
  },
): Promise<void> {
  const { roomId, userId, eventId, pdu } = knock;
  await rooms.ctx.db.transaction(async (tx) => {
    const room = await loadRoom(tx, roomId);
    if (room === undefined) {
      await tx.execute(
        `INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public, current_state_group, max_depth)
         VALUES ($1, $2, $3, $4, 0, NULL, 0)`,
        [roomId, knock.roomVersion, userId, rooms.ctx.now()],
      );
    }
    const position = await insertOwnMembershipOutlier(tx, roomId, userId, eventId, pdu);
    // Announced right after COMMIT, under the write lock: before any later commit is.
    tx.afterCommit(() => rooms.ctx.notifier.notify(position, { users: [userId] }));
    // Only in a room this server is not in: once it is (another local user joined while the
    // knock was out), the room's current state moves with its state group alone, and the knock
    // reaches it over federation (rooms/current-state-ids.ts relies on that).
    if (room?.currentStateGroup == null) {
      await tx.execute(
        `INSERT INTO room_current_state (room_id, type, state_key, event_id) VALUES ($1, 'm.room.member', $2, $3)
         ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
        [roomId, userId, eventId],
      );
    }
    await tx.execute(
      `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
       VALUES ($1, $2, 'knock', $3, $4, 0)
       ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership,
         event_id = excluded.event_id, stream_position = excluded.stream_position, forgotten = 0`,
      [roomId, userId, eventId, position],
    );
    await tx.execute(
      `INSERT INTO federation_invites (room_id, user_id, event_id, inviter_server, invite_state)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id,
         inviter_server = excluded.inviter_server, invite_state = excluded.invite_state`,
      [roomId, userId, eventId, knock.server, JSON.stringify(knock.state)],
    );
  });
}
