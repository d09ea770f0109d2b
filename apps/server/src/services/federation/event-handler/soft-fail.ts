/**
 * Step 6 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu
 * and "Soft failure": an event allowed by its auth events and the state before it, but not by the
 * room's current state, is stored (it stays in the DAG and may later be referenced) but is not
 * sent to clients and does not change current state or forward extremities.
 */
import { checkSoftFail, type DagEvent } from '@weft/dag';

import type { CheckedPdu } from './types.ts';

/** Whether `checked` is soft-failed against `currentState`. */
export function isSoftFailed(
  checked: CheckedPdu,
  currentState: ReadonlyMap<string, DagEvent>,
): boolean {
  return !checkSoftFail(checked.dag, new Map(currentState), checked.rules).allowed;
}
