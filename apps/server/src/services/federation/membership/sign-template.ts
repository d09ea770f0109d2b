/**
 * The joining (or leaving) server's half of `make_join` / `make_leave` (spec server-server-api
 * "Joining Rooms", "Leaving Rooms"): fill in the resident server's template with our membership,
 * origin and timestamp, drop whatever must not be carried over (an ID, signatures, hashes,
 * `unsigned`), then hash and sign it. The event ID is the signed event's reference hash.
 */
import { type RoomVersionRules, STABLE_ROOM_VERSIONS } from '@weft/dag';
import { computeEventId, signEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { type RoomService, rulesOf } from '../../rooms/service.ts';
import type { FederationDeps } from './types.ts';

/**
 * `GET /v1/{kind}/{roomId}/{userId}` from `server`: the room's version (and its rules) and the
 * event template (502 when either is missing). `make_join` and `make_knock` name every room
 * version this server supports (`ver`).
 */
export async function fetchMembershipTemplate(
  deps: FederationDeps,
  server: string,
  kind: 'make_join' | 'make_knock' | 'make_leave',
  roomId: string,
  userId: string,
): Promise<{
  readonly roomVersion: string;
  readonly rules: RoomVersionRules;
  readonly template: Record<string, unknown>;
}> {
  const ver =
    kind === 'make_leave'
      ? ''
      : `?${STABLE_ROOM_VERSIONS.map((v) => `ver=${encodeURIComponent(v)}`).join('&')}`;
  const answer = await deps.request(
    server,
    'GET',
    `/_matrix/federation/v1/${kind}/${encodeURIComponent(roomId)}/${encodeURIComponent(userId)}${ver}`,
  );
  const roomVersion = answer['room_version'];
  const template = answer['event'];
  if (typeof roomVersion !== 'string' || typeof template !== 'object' || template === null) {
    throw new MatrixError(502, 'M_UNKNOWN', `Malformed ${kind} response`);
  }
  return {
    roomVersion,
    rules: rulesOf(roomVersion),
    template: template as Record<string, unknown>,
  };
}

export function signMembershipTemplate(
  rooms: RoomService,
  template: Record<string, unknown>,
  options: {
    readonly rules: RoomVersionRules;
    readonly roomId: string;
    readonly userId: string;
    /** The membership content (`membership`, `reason`, profile fields, …). */
    readonly content: Record<string, unknown>;
  },
): { readonly signed: Record<string, unknown>; readonly eventId: string } {
  const { event_id, signatures, hashes, unsigned, ...rest } = template;
  const serverName = rooms.ctx.config.serverName;
  const pdu: Record<string, unknown> = {
    ...rest,
    content: options.content,
    origin: serverName,
    origin_server_ts: rooms.ctx.now(),
    room_id: options.roomId,
    sender: options.userId,
    state_key: options.userId,
    type: 'm.room.member',
  };
  const signed = signEvent(pdu, options.rules.id, serverName, rooms.ctx.signingKey);
  return { signed, eventId: computeEventId(signed, options.rules.id) };
}
