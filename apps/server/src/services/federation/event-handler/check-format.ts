/**
 * Step 1 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Is a valid event, otherwise it is dropped" — the PDU format of its room version
 * (`checkPduFormat`), with the event ID computed from the reference hash (room versions 4+ send
 * none; an `event_id` key in the received JSON is never trusted).
 */
import { checkPduFormat, type RoomVersionRules } from '@weft/dag';
import { computeEventId, type JsonObject } from '@weft/signing';
import { isObject } from '../../../json-object.ts';
import { type CheckedPdu, PduRejection } from './types.ts';

/** Checks the format of `pdu` (room version `roomVersion`); throws {@link PduRejection}. */
export function checkFormat(
  pdu: unknown,
  roomVersion: string,
  rules: RoomVersionRules,
): CheckedPdu {
  if (!isObject(pdu)) {
    throw new PduRejection('format', 'PDU is not an object');
  }
  const { event_id: _ignored, ...received } = pdu as Record<string, unknown>;
  let eventId: string;
  let dag: CheckedPdu['dag'];
  try {
    eventId = computeEventId(received as JsonObject, roomVersion);
    dag = checkPduFormat(received, rules, { eventId });
  } catch (error) {
    throw new PduRejection('format', `invalid PDU: ${(error as Error).message}`);
  }
  const roomId = dag.room_id;
  if (typeof roomId !== 'string') throw new PduRejection('format', 'PDU has no room_id');
  return { eventId, roomId, roomVersion, rules, pdu: received, dag };
}
