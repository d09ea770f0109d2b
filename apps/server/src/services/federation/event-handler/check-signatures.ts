/**
 * Step 2 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes signature checks, otherwise it is dropped" (spec "Validating hashes and signatures on
 * received events"). The keys of every server that signed for the sender are fetched first
 * (`ServerKeyStore`), then `verifyEvent` checks the signatures on the redacted event. A forged or
 * missing signature drops the event; the content-hash verdict is left to check-hashes.ts.
 */
import { type EventVerification, type JsonObject, verifyEvent } from '@weft/signing';

import { requiredSigners } from '../required-signers.ts';
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
  // A join with `join_authorised_via_users_server` (restricted rooms) must also be signed by
  // that user's server: spec "Validating hashes and signatures on received events", the
  // signature half of auth rule 5.3.5.2 that @weft/dag leaves to the receiver.
  const required = requiredSigners(checked.pdu, checked.rules);
  const servers = required ?? [sender];
  for (const server of servers) {
    const keyIds = Object.keys(signatures[server] ?? {}).filter((id) => id.startsWith('ed25519:'));
    await deps.keys.prefetch(server, keyIds, checked.dag.origin_server_ts);
  }
  const options = required === undefined ? {} : { requiredServers: required };
  const pdu = checked.pdu as JsonObject;
  let verdict = verifyEvent(pdu, checked.roomVersion, deps.keys.lookup, options);
  if (verdict.status === 'missing-key') {
    // A key we had cached may have been superseded: refetch once, then decide.
    await deps.keys.refreshIfStale(verdict.entity, Number.MAX_SAFE_INTEGER);
    verdict = verifyEvent(pdu, checked.roomVersion, deps.keys.lookup, options);
  }
  if (verdict.status === 'reject') {
    throw new PduRejection('signatures', `signature check failed: ${verdict.message}`);
  }
  if (verdict.status === 'missing-key') {
    throw new PduRejection('signatures', `no verify key of ${verdict.entity} for its signatures`);
  }
  return verdict;
}
