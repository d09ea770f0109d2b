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
import type { RoomVersionRules } from '@weft/dag';
import type { KeyLookup } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { checkReceivedPdu, type VerifiedPdu } from './verify-pdu.ts';

export type { VerifiedPdu } from './verify-pdu.ts';

/** Checks format, signatures and hashes of `raw`; throws `MatrixError` 400/403 otherwise. */
export function verifyReceivedPdu(
  raw: unknown,
  rules: RoomVersionRules,
  keyLookup: KeyLookup,
): VerifiedPdu {
  const outcome = checkReceivedPdu(raw, rules, keyLookup);
  if (!('fault' in outcome)) return outcome;
  throw outcome.fault === 'bad-json'
    ? MatrixError.badJson(outcome.message)
    : MatrixError.forbidden(outcome.message);
}
