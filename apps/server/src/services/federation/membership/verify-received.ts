/**
 * The checks every PDU received during a membership handshake goes through before it is used
 * (spec server-server-api "Checks performed on receipt of a PDU", steps 1–3,
 * https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu):
 * 1. the event ID is the reference hash of the event as received (room versions 4+ never send
 *    one; a forged one would not match) and the PDU has the room version's format
 *    (@weft/dag `checkPduFormat`);
 * 2. the signature of the sender's server verifies (@weft/signing `verifyEvent`), and for
 *    room versions whose events carry no `origin` signature check, only that server's;
 * 3. the content hash matches, otherwise the redacted copy is used instead.
 * Events failing 1–2 are rejected with the `MatrixError` the endpoint answers.
 */
import { checkPduFormat, DagError, type DagEvent, type RoomVersionRules } from '@weft/dag';
import { computeEventId, type JsonObject, type KeyLookup, verifyEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';

/** A received PDU that passed the signature and hash checks. */
export interface VerifiedPdu {
  readonly eventId: string;
  /** The PDU to store: as received, or its redacted copy when the content hash was wrong. */
  readonly pdu: Record<string, unknown>;
  readonly dag: DagEvent;
}

/**
 * Checks format, signatures and hashes of `raw`; throws `MatrixError` 400/403 otherwise.
 * `knownEventId` is the reference hash the caller already computed from this very object (it
 * saves a second canonical encoding when a big send_join answer is checked).
 */
export function verifyReceivedPdu(
  raw: unknown,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
  knownEventId?: string,
): VerifiedPdu {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw MatrixError.badJson('An event must be a JSON object');
  }
  // An `event_id` key is not part of v4+ events; drop it so the reference hash decides the ID.
  const { event_id: _ignored, ...pdu } = raw as Record<string, unknown>;
  let eventId: string;
  try {
    eventId = knownEventId ?? computeEventId(pdu as JsonObject, rules.id);
    checkPduFormat(pdu, rules, { eventId });
  } catch (error) {
    if (DagError.isInstance(error)) throw MatrixError.badJson(`Invalid event: ${error.message}`);
    throw MatrixError.badJson('Invalid event');
  }
  const verification = verifyEvent(pdu as JsonObject, rules.id, keyLookup);
  switch (verification.status) {
    case 'valid':
      return { eventId, pdu, dag: { ...(pdu as unknown as DagEvent), event_id: eventId } };
    case 'redact': {
      const redacted = verification.redacted;
      return {
        eventId,
        pdu: redacted,
        dag: { ...(redacted as unknown as DagEvent), event_id: eventId },
      };
    }
    case 'missing-key':
      throw MatrixError.forbidden(`No verify key known for ${verification.entity}`);
    default:
      throw MatrixError.forbidden(`Bad signature on event ${eventId}`);
  }
}
