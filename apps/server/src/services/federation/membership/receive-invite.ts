/**
 * The invitee's server's half of `invite` v2 (spec server-server-api "Inviting to a room",
 * https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2inviteroomideventid):
 * 1. the room version must be one this server supports (400 `M_INCOMPATIBLE_ROOM_VERSION`);
 * 2. the event must be an `invite` of a user of this server, sent by a user of the calling
 *    server, with the event ID of the path, a valid format and the caller's valid signature;
 * 3. this server adds its own signature and answers the event;
 * 4. when no local user is in the room yet, the invite is stored for the invitee: the event, a
 *    membership of `invite`, and the `invite_room_state` that `/sync` shows as `invite_state`.
 *    (When the room is already here, the event arrives again through `/send` like any other.)
 */
import { parseAnyJson } from '@weft/canonical-json';
import { roomVersionRules } from '@weft/dag';
import { type JsonObject, signEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { nextStreamPosition } from '../../core/stream.ts';
import { loadRoom } from '../../rooms/room-store.ts';
import type { RoomService } from '../../rooms/service.ts';
import { type ServerKeyLookup, serverNameOf } from './types.ts';
import { verifyReceivedPdu } from './verify-received.ts';

/** Handles one `invite` v2 request from `origin`; returns the response body. */
export async function receiveInvite(
  rooms: RoomService,
  keys: ServerKeyLookup,
  userExists: (userId: string) => Promise<boolean>,
  options: {
    readonly origin: string;
    readonly roomId: string;
    readonly eventId: string;
    readonly body: Readonly<Record<string, unknown>>;
  },
): Promise<{ event: Record<string, unknown> }> {
  const { origin, roomId, body } = options;
  const roomVersion = body['room_version'];
  const rules = typeof roomVersion === 'string' ? roomVersionRules(roomVersion) : undefined;
  if (rules === undefined) {
    throw new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', 'Unsupported room version', {
      extra: { room_version: typeof roomVersion === 'string' ? roomVersion : null },
    });
  }
  const own = rooms.ctx.config.serverName;
  const verified = verifyReceivedPdu(body['event'], rules, await keys([body['event']]));
  const { dag } = verified;
  if (verified.eventId !== options.eventId)
    throw MatrixError.badJson('The event ID does not match');
  if (
    dag.room_id !== roomId ||
    dag.type !== 'm.room.member' ||
    dag.content['membership'] !== 'invite' ||
    dag.state_key === undefined
  ) {
    throw MatrixError.badJson('Not an invite event of this room');
  }
  if (serverNameOf(dag.sender) !== origin) {
    throw MatrixError.forbidden('The inviter does not belong to the requesting server');
  }
  const invitee = dag.state_key;
  if (serverNameOf(invitee) !== own || !(await userExists(invitee))) {
    throw MatrixError.notFound('No such user on this server');
  }
  const signed = signEvent(verified.pdu as JsonObject, rules.id, own, rooms.ctx.signingKey);
  const rawState = body['invite_room_state'];
  const inviteState = Array.isArray(rawState)
    ? rawState.filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    : [];

  await rooms.ctx.db.transaction(async (tx) => {
    const room = await loadRoom(tx, roomId);
    if (room?.currentStateGroup != null) return;
    if (room === undefined) {
      await tx.execute(
        `INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public, current_state_group, max_depth)
         VALUES ($1, $2, $3, $4, 0, NULL, 0)`,
        [roomId, rules.id, dag.sender, rooms.ctx.now()],
      );
    }
    const position = await nextStreamPosition(tx);
    // Announced right after COMMIT, under the write lock: before any later commit is.
    tx.afterCommit(() => rooms.ctx.notifier.notify(position));
    await tx.execute(
      `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
         origin_server_ts, pdu, unsigned, state_group, outlier)
       VALUES ($1, $2, $3, $4, 'm.room.member', $5, $6, $7, $8, NULL, NULL, 1)
       ON CONFLICT (event_id) DO NOTHING`,
      [
        verified.eventId,
        roomId,
        position,
        dag.depth,
        invitee,
        dag.sender,
        dag.origin_server_ts,
        JSON.stringify(signed),
      ],
    );
    await tx.execute(
      `INSERT INTO room_current_state (room_id, type, state_key, event_id) VALUES ($1, 'm.room.member', $2, $3)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
      [roomId, invitee, verified.eventId],
    );
    await tx.execute(
      `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
       VALUES ($1, $2, 'invite', $3, $4, 0)
       ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership,
         event_id = excluded.event_id, stream_position = excluded.stream_position, forgotten = 0`,
      [roomId, invitee, verified.eventId, position],
    );
    await tx.execute(
      `INSERT INTO federation_invites (room_id, user_id, event_id, inviter_server, invite_state)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id,
         inviter_server = excluded.inviter_server, invite_state = excluded.invite_state`,
      [roomId, invitee, verified.eventId, origin, JSON.stringify(inviteState)],
    );
  });
  return { event: signed };
}

/** The stored `invite_room_state` of a remote invite, if `userId` has one for `roomId`. */
export async function remoteInviteState(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<
  { state: Record<string, unknown>[]; inviterServer: string; eventId: string } | undefined
> {
  const row = await rooms.ctx.db.queryOne<{
    invite_state: string;
    inviter_server: string;
    event_id: string;
  }>(
    'SELECT invite_state, inviter_server, event_id FROM federation_invites WHERE room_id = $1 AND user_id = $2',
    [roomId, userId],
  );
  if (row === undefined) return undefined;
  return {
    state: parseAnyJson(row.invite_state) as Record<string, unknown>[],
    inviterServer: row.inviter_server,
    eventId: row.event_id,
  };
}
