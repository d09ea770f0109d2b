/**
 * Step 4 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * "Passes authorization rules based on the event's auth events, otherwise it is rejected".
 * The auth events come from storage (fetched first as outliers when unknown, fetch-missing.ts);
 * `checkAuth` with the `authEvent` option also runs rule 3 (no duplicates, only the selected
 * types, none rejected, same room) — which is what catches a fake auth chain.
 *
 * v12 events never cite the create event (https://spec.matrix.org/v1.19/rooms/v12/: the room ID
 * is `!` + the create event's reference hash; auth rule 2 takes the create event from it):
 * callers load it with the auth events ({@link authEventIdsToLoad}) so the lookup finds it.
 */
import { checkAuth, type DagEvent } from '@weft/dag';

import { stateMapOf } from '../../rooms/auth.ts';
import { type CheckedPdu, PduRejection } from './types.ts';

/**
 * The create event's ID when the room ID names it (room versions whose rules say so, v12+), or
 * `undefined`: v12 events do not list it among their `auth_events`.
 */
export function createEventIdOfRoom(checked: CheckedPdu): string | undefined {
  if (!checked.rules.authorization.roomCreateEventIdAsRoomId) return undefined;
  if (!checked.roomId.startsWith('!')) return undefined;
  return `$${checked.roomId.slice(1)}`;
}

/** The events {@link authAgainstAuthEvents} needs in its map: the auth events (and the v12 create). */
export function authEventIdsToLoad(checked: CheckedPdu): string[] {
  const create = createEventIdOfRoom(checked);
  return create === undefined || checked.dag.auth_events.includes(create)
    ? [...checked.dag.auth_events]
    : [...checked.dag.auth_events, create];
}

/**
 * Throws a storing {@link PduRejection} unless `checked` is allowed by its own auth events.
 * `authEvents` holds at least the event's auth events; for v12 rooms also the create event
 * (loaded with {@link authEventIdsToLoad}), which the auth rules find through the lookup.
 */
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
