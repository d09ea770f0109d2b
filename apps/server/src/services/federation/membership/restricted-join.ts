/**
 * The resident server's part in a remote user's join to a `restricted` / `knock_restricted`
 * room (spec server-server-api "Joining Rooms" → `GET /v1/make_join` and `PUT /v2/send_join`,
 * https://spec.matrix.org/v1.19/server-server-api/#restricted-rooms; client-server-api
 * "Restricted rooms"; authorization rules of room versions 8+, rule 5.3.5 — v10+ for
 * `knock_restricted`). The allow check and the choice of the authorising user are those of local
 * joins (rooms/membership.ts `checkRestrictedJoin`); here they become the endpoints' answers:
 * - `make_join` puts a local joined user with the power to invite in the template's
 *   `join_authorised_via_users_server`, or refuses as the spec's error responses say: 403
 *   `M_FORBIDDEN` when this server can tell the user meets no condition ("The room that the
 *   joining server is attempting to join does not permit the user to join"), 400
 *   `M_UNABLE_TO_AUTHORISE_JOIN` when it can validate none of them (it is in none of the allowed
 *   rooms), 400 `M_UNABLE_TO_GRANT_JOIN` when the user qualifies but no user of this server
 *   could authorise the join ("a different server should be attempted");
 * - `send_join` adds this server's signature to a join naming one of its users, which the join
 *   needs to be valid (spec "Validating hashes and signatures on received events": it "must also
 *   be signed by the server of that user"; federation/required-signers.ts), after the same
 *   check — the answer's `event` carries it back to the joining server (send_join v2).
 */
import { signEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../../storage/index.ts';
import { checkRestrictedJoin } from '../../rooms/membership.ts';
import { membershipOf, type RoomRow } from '../../rooms/room-store.ts';
import { type RoomService, rulesOf } from '../../rooms/service.ts';
import { joinAuthoriserServer } from '../required-signers.ts';

/**
 * For `make_join`: the local user to name in `join_authorised_via_users_server` of remote
 * `userId`'s join, `undefined` when none is needed (join rule not restricted, or the user is
 * already joined or invited — rule 5.3.5.1), or the spec's error (see above).
 */
export async function restrictedJoinAuthoriser(
  rooms: RoomService,
  db: SqlExecutor,
  room: RoomRow,
  userId: string,
): Promise<string | undefined> {
  const current = (await membershipOf(db, room.roomId, userId))?.membership;
  if (current === 'join' || current === 'invite') return undefined;
  const check = await checkRestrictedJoin(rooms, db, room, userId);
  switch (check.kind) {
    case 'unrestricted':
      return undefined;
    case 'authorised':
      return check.via;
    case 'not-allowed':
      if (!check.participates) {
        throw new MatrixError(
          400,
          'M_UNABLE_TO_AUTHORISE_JOIN',
          'This server is in none of the rooms whose members may join',
        );
      }
      throw MatrixError.forbidden(
        'The user is not invited to this room, nor a member of an allowed room',
      );
    case 'no-authoriser':
      throw new MatrixError(
        400,
        'M_UNABLE_TO_GRANT_JOIN',
        'No user of this server can authorise a join to this room; try another server',
      );
  }
}

/**
 * For `send_join`: `event` with this server's signature added when it is a join naming one of
 * this server's users in `join_authorised_via_users_server` and not yet signed by this server,
 * once {@link restrictedJoinAuthoriser} says the user may join; otherwise `event` unchanged.
 * The signature does not change the event ID (the reference hash leaves `signatures` out); a
 * changed content makes the sender's signature fail the checks that follow.
 */
export async function countersignRestrictedJoin(
  rooms: RoomService,
  room: RoomRow,
  event: unknown,
): Promise<unknown> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return event;
  const pdu = event as Record<string, unknown>;
  const rules = rulesOf(room.roomVersion);
  const sender = pdu['sender'];
  if (typeof sender !== 'string') return event;
  const serverName = rooms.ctx.config.serverName;
  // The same decision as the receipt checks' (required-signers.ts joinAuthorisedVia).
  if (joinAuthoriserServer(pdu, rules) !== serverName) return event;
  const signatures = pdu['signatures'];
  if (
    typeof signatures === 'object' &&
    signatures !== null &&
    Object.hasOwn(signatures, serverName)
  ) {
    // Already signed here (checked with the others by the receipt checks).
    return event;
  }
  // Throws the make_join errors for a user who may not join (or whom no one here can admit).
  await restrictedJoinAuthoriser(rooms, rooms.ctx.db, room, sender);
  try {
    return signEvent(pdu as never, rules.id, serverName, rooms.ctx.signingKey);
  } catch {
    // Not an event that can be signed (not canonical JSON): the receipt checks refuse it.
    return event;
  }
}
