/**
 * Step 5 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes authorization rules based on the state before the event, otherwise it is rejected".
 */
import { checkAuth, type DagEvent } from '@weft/dag';

import { type CheckedPdu, PduRejection } from './types.ts';

/** Throws a storing {@link PduRejection} unless the state before the event allows it. */
export function authAgainstState(
  checked: CheckedPdu,
  stateBefore: ReadonlyMap<string, DagEvent>,
): void {
  const outcome = checkAuth(checked.dag, new Map(stateBefore), checked.rules);
  if (!outcome.allowed) {
    throw new PduRejection(
      'state-before',
      `not allowed by the state before it: ${outcome.reason}: ${outcome.detail}`,
      true,
    );
  }
}
