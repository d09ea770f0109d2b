/**
 * Step 3 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes hash checks, otherwise it is redacted before being processed further". `verifyEvent`
 * already compared `hashes.sha256` with the content hash; here a mismatch replaces the event by
 * the redacted copy it computed, which is what gets authorized and stored.
 */
import { checkPduFormat } from '@weft/dag';
import type { EventVerification } from '@weft/signing';

import type { CheckedPdu } from './types.ts';

/** Applies the hash verdict to `checked` (in place); returns whether it was redacted. */
export function applyHashCheck(checked: CheckedPdu, verdict: EventVerification): boolean {
  if (verdict.status !== 'redact') return false;
  checked.pdu = { ...verdict.redacted };
  checked.dag = checkPduFormat(checked.pdu, checked.rules, {
    eventId: checked.eventId,
  });
  return true;
}
