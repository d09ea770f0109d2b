/**
 * Redactions by local users (spec client-server-api "Redactions"; rooms/v11 moves `redacts` into
 * content). The authorization rules check the `m.room.redaction` event type's power level; the
 * extra rule that redacting someone else's event needs the `redact` level is checked here, as
 * the spec leaves it to the server applying the redaction.
 */
import { MatrixError } from '@weft/transport';

import { senderPowerLevelOf } from './power.ts';
import { type RoomService, rulesOf } from './service.ts';
import { redactTxnScope } from './txn-scope.ts';

export async function redact(
  rooms: RoomService,
  options: {
    roomId: string;
    eventId: string;
    sender: string;
    deviceId: string;
    txnId: string;
    reason?: string | undefined;
  },
): Promise<string> {
  const txnScope = redactTxnScope(options.roomId, options.eventId);
  const previous = await rooms.eventIdForTxn(
    options.sender,
    options.deviceId,
    options.txnId,
    txnScope,
  );
  if (previous !== undefined) return previous;
  const target = await rooms.getEvent(options.eventId);
  if (target === undefined || target.roomId !== options.roomId) {
    throw MatrixError.notFound('Event not found');
  }
  const version = (await rooms.roomVersion(options.roomId)) ?? '11';
  const rules = rulesOf(version);
  if (target.sender !== options.sender) {
    const power = await senderPowerLevelOf(rooms, options.roomId, options.sender);
    if (power.sender < power.named('redact')) {
      throw MatrixError.forbidden("You may not redact other users' events");
    }
  }
  const content: Record<string, unknown> = {};
  if (options.reason !== undefined) content['reason'] = options.reason;
  if (rules.eventFormat.redactsInContent) content['redacts'] = options.eventId;
  return rooms.send(
    {
      roomId: options.roomId,
      type: 'm.room.redaction',
      sender: options.sender,
      content,
      redacts: options.eventId,
    },
    { senderDevice: options.deviceId, txnId: options.txnId, txnScope },
  );
}
