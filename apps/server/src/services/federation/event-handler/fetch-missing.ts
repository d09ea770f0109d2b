/**
 * Filling gaps in the DAG from the sending server (spec server-server-api "Backfilling and
 * retrieving missing events", https://spec.matrix.org/v1.19/server-server-api/#retrieving-missing-events):
 * - unknown auth events are fetched one by one with `GET /event/{eventId}`, checked (format,
 *   signatures, hashes, their own auth events) and stored as outliers;
 * - unknown prev events are asked for with `POST /get_missing_events/{roomId}` (between our
 *   forward extremities and the new event) and then processed in depth order;
 * - when the gap is too big for that, the state at each missing prev event is fetched with
 *   `GET /state_ids/{roomId}?event_id=…` and the prev event itself is stored as an outlier.
 */
import { type DagEvent, type StateMap, stateAfterEvent, stateKeyOf } from '@weft/dag';
import { matrixPath } from '@weft/transport';

import type { SqlExecutor } from '../../../storage/index.ts';
import { forwardExtremities } from '../../rooms/room-store.ts';
import { authAgainstAuthEvents, authEventIdsToLoad } from './auth-against-auth-events.ts';
import { checkFormat } from './check-format.ts';
import { applyHashCheck } from './check-hashes.ts';
import { checkSignatures } from './check-signatures.ts';
import { isStored, loadDagEvents, storeOutlier } from './persist-remote.ts';
import { type CheckedPdu, type HandlerDeps, PduRejection } from './types.ts';

/** How deep an auth chain is walked event by event before giving up. */
const MAX_AUTH_FETCH_DEPTH = 64;
/** Events asked for in one `get_missing_events`. */
export const MISSING_EVENTS_LIMIT = 20;

async function fetchEvent(deps: HandlerDeps, origin: string, eventId: string): Promise<unknown> {
  const response = await deps.client.request<{ pdus?: unknown }>(
    origin,
    'GET',
    matrixPath`/_matrix/federation/v1/event/${eventId}`,
  );
  const pdus = Array.isArray(response.pdus) ? response.pdus : [];
  return pdus[0];
}

/**
 * Makes sure every auth event of `checked` (transitively) is stored, fetching unknown ones from
 * `origin` as outliers (stored as rejected when their own auth events do not allow them).
 *
 * When an auth event cannot be had (the fetch fails, the chain is too deep, the origin answers
 * another event), `checked` is not judged: the {@link PduRejection} thrown stores nothing, so the
 * PDU may be retried. Spec https://spec.matrix.org/v1.19/server-server-api/#rejection rejects
 * events that fail the authorization rules — not events whose auth events this server could
 * not get (https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu
 * step 4 is only run once they are known).
 */
export async function fetchAuthEvents(
  deps: HandlerDeps,
  origin: string,
  checked: CheckedPdu,
  depth = 0,
): Promise<void> {
  for (const id of checked.dag.auth_events) {
    if (await isStored(deps.ctx.db, id)) continue;
    if (depth >= MAX_AUTH_FETCH_DEPTH) {
      throw new PduRejection('auth-events', 'auth chain too deep to fetch', false);
    }
    let pdu: unknown;
    try {
      pdu = await fetchEvent(deps, origin, id);
    } catch (error) {
      throw new PduRejection('auth-events', `cannot fetch auth event ${id}`, false, error);
    }
    const auth = checkFormat(pdu, checked.roomVersion, checked.rules);
    if (auth.eventId !== id || auth.roomId !== checked.roomId) {
      throw new PduRejection('auth-events', `server answered a different event for ${id}`, false);
    }
    applyHashCheck(auth, await checkSignatures(deps, auth));
    await fetchAuthEvents(deps, origin, auth, depth + 1);
    let rejected = false;
    try {
      authAgainstAuthEvents(auth, await loadDagEvents(deps.ctx.db, authEventIdsToLoad(auth)));
    } catch (error) {
      if (!(error instanceof PduRejection)) throw error;
      rejected = true;
    }
    await deps.ctx.db.transaction((tx) => storeOutlier(tx, auth, rejected));
  }
}

/** The prev events of `checked` that are not stored (or stored only as outliers). */
export async function missingPrevEvents(
  deps: HandlerDeps,
  checked: CheckedPdu,
  db: SqlExecutor = deps.ctx.db,
): Promise<string[]> {
  const missing: string[] = [];
  for (const id of checked.dag.prev_events) {
    const row = await db.queryOne<{ state_group: number | null }>(
      'SELECT state_group FROM events WHERE event_id = $1',
      [id],
    );
    if (row?.state_group == null) missing.push(id);
  }
  return missing;
}

/**
 * Asks `origin` for the events between our forward extremities and `checked` (oldest first).
 * Spec https://spec.matrix.org/v1.19/server-server-api/#retrieving-events-with-missing-prev_events
 * (and `POST /get_missing_events/{roomId}`): the answer is at most `limit` events of that room.
 * Anything else in it is dropped unprocessed — events of another room (which would be handled
 * as if they were this room's, without the room's ACL), objects that are not events, and
 * events beyond the `limit` asked for.
 */
export async function getMissingEvents(
  deps: HandlerDeps,
  origin: string,
  checked: CheckedPdu,
): Promise<unknown[]> {
  const earliest = await forwardExtremities(deps.ctx.db, checked.roomId);
  const response = await deps.client.request<{ events?: unknown }>(
    origin,
    'POST',
    matrixPath`/_matrix/federation/v1/get_missing_events/${checked.roomId}`,
    {
      earliest_events: earliest,
      latest_events: [checked.eventId],
      limit: MISSING_EVENTS_LIMIT,
      min_depth: 0,
    },
  );
  const events = Array.isArray(response.events) ? response.events : [];
  return events
    .slice(0, MISSING_EVENTS_LIMIT)
    .filter(
      (e): e is Record<string, unknown> =>
        typeof e === 'object' && e !== null && !Array.isArray(e) && e['room_id'] === checked.roomId,
    )
    .sort((a, b) => Number(a['depth']) - Number(b['depth']));
}

/**
 * The state after prev event `prevId` as `origin` reports it (`/state_ids` gives the state
 * before it; the prev event is applied on top). Unknown state and auth events are fetched and
 * stored as outliers, signatures checked.
 */
export async function fetchStateAfter(
  deps: HandlerDeps,
  origin: string,
  checked: CheckedPdu,
  prevId: string,
): Promise<StateMap> {
  const response = await deps.client.request<{ pdu_ids?: unknown; auth_chain_ids?: unknown }>(
    origin,
    'GET',
    matrixPath`/_matrix/federation/v1/state_ids/${checked.roomId}`,
    undefined,
    { query: { event_id: prevId } },
  );
  const ids = [
    ...(Array.isArray(response.auth_chain_ids) ? response.auth_chain_ids : []),
    ...(Array.isArray(response.pdu_ids) ? response.pdu_ids : []),
    prevId,
  ].filter((id): id is string => typeof id === 'string');
  for (const id of ids) {
    if (await isStored(deps.ctx.db, id)) continue;
    const event = checkFormat(
      await fetchEvent(deps, origin, id),
      checked.roomVersion,
      checked.rules,
    );
    if (event.eventId !== id || event.roomId !== checked.roomId) {
      throw new PduRejection('missing-events', `server answered a different event for ${id}`);
    }
    applyHashCheck(event, await checkSignatures(deps, event));
    await fetchAuthEvents(deps, origin, event);
    await deps.ctx.db.transaction((tx) => storeOutlier(tx, event, false));
  }
  const stateIds = (Array.isArray(response.pdu_ids) ? response.pdu_ids : []).filter(
    (id): id is string => typeof id === 'string',
  );
  const events = await loadDagEvents(deps.ctx.db, [...stateIds, prevId]);
  const before = new Map<string, string>();
  for (const id of stateIds) {
    const event = events.get(id);
    if (event?.state_key !== undefined) before.set(stateKeyOf(event.type, event.state_key), id);
  }
  const prev = events.get(prevId) as DagEvent | undefined;
  if (prev === undefined)
    throw new PduRejection('missing-events', `prev event ${prevId} unavailable`);
  return stateAfterEvent(prev, before);
}
