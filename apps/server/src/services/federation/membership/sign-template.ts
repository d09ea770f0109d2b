/**
 * The joining (or leaving) server's half of `make_join` / `make_leave` (spec server-server-api
 * "Joining Rooms", "Leaving Rooms"): fill in the resident server's template with our membership,
 * origin and timestamp, drop whatever must not be carried over (an ID, signatures, hashes,
 * `unsigned`), then hash and sign it. The event ID is the signed event's reference hash.
 */
import type { RoomVersionRules } from '@weft/dag';
import { computeEventId, signEvent } from '@weft/signing';

import type { RoomService } from '../../rooms/service.ts';

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
