/**
 * Step 2 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes signature checks, otherwise it is dropped" (spec "Validating hashes and signatures on
 * received events"). The keys of every server that signed for the sender are fetched first
 * (`ServerKeyStore`), then `verifyEvent` checks the signatures on the redacted event. A forged or
 * missing signature drops the event; the content-hash verdict is left to check-hashes.ts.
 */
import { type EventVerification, type JsonObject, verifyEvent } from '@weft/signing';

import { type CheckedPdu, type HandlerDeps, PduRejection } from './types.ts';

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** Verifies the signatures of `checked`; returns the verdict for the hash step. */
export async function checkSignatures(
  deps: HandlerDeps,
  checked: CheckedPdu,
): Promise<EventVerification> {
  const sender = serverOf(checked.dag.sender);
  const signatures = (checked.pdu['signatures'] as Record<string, Record<string, string>>) ?? {};
  const keyIds = Object.keys(signatures[sender] ?? {}).filter((id) => id.startsWith('ed25519:'));
  await deps.keys.prefetch(sender, keyIds, checked.dag.origin_server_ts);
  let verdict = verifyEvent(checked.pdu as JsonObject, checked.roomVersion, deps.keys.lookup);
  if (verdict.status === 'missing-key') {
    // A key we had cached may have been superseded: refetch once, then decide.
    await deps.keys.refreshIfStale(sender, Number.MAX_SAFE_INTEGER);
    verdict = verifyEvent(checked.pdu as JsonObject, checked.roomVersion, deps.keys.lookup);
  }
  if (verdict.status === 'reject') {
    throw new PduRejection('signatures', `signature check failed: ${verdict.message}`);
  }
  if (verdict.status === 'missing-key') {
    throw new PduRejection('signatures', `no verify key of ${verdict.entity} for its signatures`);
  }
  return verdict;
}
