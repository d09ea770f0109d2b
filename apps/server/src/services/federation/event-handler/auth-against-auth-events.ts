/**
 * Step 4 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes authorization rules based on the event's auth events, otherwise it is rejected".
 * The auth events come from storage (fetched first as outliers when unknown, fetch-missing.ts);
 * `checkAuth` with the `authEvent` option also runs rule 3 (no duplicates, only the selected
 * types, none rejected, same room) — which is what catches a fake auth chain.
 */
import { checkAuth, type DagEvent } from '@weft/dag';

import { stateMapOf } from '../../rooms/auth.ts';
import { type CheckedPdu, PduRejection } from './types.ts';

/** Throws a storing {@link PduRejection} unless `checked` is allowed by its own auth events. */
export function authAgainstAuthEvents(
  checked: CheckedPdu,
  authEvents: ReadonlyMap<string, DagEvent>,
): void {
  const cited: DagEvent[] = [];
  for (const id of checked.dag.auth_events) {
    const event = authEvents.get(id);
    if (event === undefined) {
      throw new PduRejection('auth-events', `auth event ${id} is unknown`, true);
    }
    cited.push(event);
  }
  const usable = cited.filter((event) => event.rejected !== true);
  const outcome = checkAuth(checked.dag, stateMapOf(usable), checked.rules, {
    authEvent: (id) => authEvents.get(id),
  });
  if (!outcome.allowed) {
    throw new PduRejection(
      'auth-events',
      `not allowed by its auth events: ${outcome.reason}: ${outcome.detail}`,
      true,
    );
  }
}
