/**
 * Filling gaps in the DAG from the sending server (spec server-server-api "Backfilling and
 * retrieving missing events", https://spec.matrix.org/v1.19/server-server-api/#retrieving-missing-events):
 * - unknown auth events are fetched one by one with `GET /event/{eventId}`, checked (format,
 *   signatures, hashes, their own auth events) and stored as outliers;
 * - unknown prev events are asked for with `POST /get_missing_events/{roomId}` (between our
 *   forward extremities and the new event) and then processed in depth order;
 * - when the gap is too big for that, the state at each missing prev event is fetched with
 *   `GET /state_ids/{roomId}?event_id=…` and the prev event itself is stored as an outlier.
 *
 * Everything here runs under the room's lock for a PDU a remote server chose to send, so the work
 * one PDU (and one transaction) may cause is bounded ({@link FetchBudget}): past the bound the
 * PDU is not judged (a fetch failure, nothing stored for it), as when an event cannot be had.
 */
import { type DagEvent, type StateMap, stateAfterEvent, stateKeyOf } from '@weft/dag';
import { matrixPath } from '@weft/transport';

import { inListChunks, placeholders } from '../../../storage/in-list.ts';
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
/**
 * Events one PDU may have fetched one by one (`/event`: auth chains, prev events' events) and
 * processed (`get_missing_events` answers, handled recursively) — Synapse-like bounds: a
 * legitimate gap is filled by a few `get_missing_events` rounds and an auth chain already mostly
 * held, a hostile peer's wide or deep DAG is not walked without end under the room lock.
 */
export const MAX_EVENTS_PER_PDU = 400;
/** The same, for all the PDUs of one inbound transaction together. */
export const MAX_EVENTS_PER_TRANSACTION = 1_000;
/**
 * Event IDs of one `/state_ids` answer (`pdu_ids` and `auth_chain_ids` together) not yet held
 * that may be fetched: a room's state can be large (tens of thousands of members), and the IDs
 * already held cost nothing to fetch, so only the unknown ones count; an answer needing more is
 * refused rather than fetched.
 */
export const MAX_STATE_IDS = 10_000;
/**
 * Sanity bound on one `/state_ids` answer's length (`pdu_ids` and `auth_chain_ids` together,
 * held or not): past it the answer is refused without looking its IDs up.
 */
export const MAX_STATE_ANSWER_IDS = 500_000;
/** State events one PDU (one transaction) may have fetched for `/state_ids` answers. */
export const MAX_STATE_EVENTS_PER_PDU = MAX_STATE_IDS;
/** `/event` requests in flight at once while fetching the events of a `/state_ids` answer. */
const STATE_FETCH_CONCURRENCY = 8;

/**
 * What one PDU may still cost: events fetched or processed ({@link MAX_EVENTS_PER_PDU}) and
 * state events fetched ({@link MAX_STATE_EVENTS_PER_PDU}), each also drawn from the budget of
 * the transaction it came in (`parent`). Exceeding it is a fetch failure: a
 * {@link PduRejection} that stores no verdict (spec
 * https://spec.matrix.org/v1.19/server-server-api/#rejection is for failing the auth rules).
 */
export class FetchBudget {
  #events: number;
  #stateEvents: number;
  readonly #parent: FetchBudget | undefined;
  /** Events fetched (or being fetched) for this PDU, by ID: a DAG is walked once. */
  readonly visited = new Set<string>();
  /** Events of a `/state_ids` answer fetched ahead (concurrently), by ID. */
  readonly prefetched = new Map<string, unknown>();

  constructor(
    events = MAX_EVENTS_PER_PDU,
    stateEvents = MAX_STATE_EVENTS_PER_PDU,
    parent?: FetchBudget,
  ) {
    this.#events = events;
    this.#stateEvents = stateEvents;
    this.#parent = parent;
  }

  /** A budget for one transaction: its PDUs' budgets draw from it. */
  static forTransaction(): FetchBudget {
    return new FetchBudget(MAX_EVENTS_PER_TRANSACTION, MAX_STATE_EVENTS_PER_PDU * 2);
  }

  /** A budget for one PDU of this transaction. */
  forPdu(): FetchBudget {
    return new FetchBudget(MAX_EVENTS_PER_PDU, MAX_STATE_EVENTS_PER_PDU, this);
  }

  /** Throws a fetch failure when the budget (or the transaction's) is spent past its end. */
  ensureLeft(): void {
    this.#parent?.ensureLeft();
    if (this.#events < 0 || this.#stateEvents < 0) {
      throw new PduRejection('missing-events', 'too many events to fetch for this event', false);
    }
  }

  /** Takes `n` events (fetched or processed); throws a fetch failure past the budget. */
  takeEvents(n = 1): void {
    this.#parent?.takeEvents(n);
    this.#events -= n;
    if (this.#events < 0) {
      throw new PduRejection('missing-events', 'too many events to fetch for this event', false);
    }
  }

  /** Takes `n` state events to fetch; throws a fetch failure past the budget. */
  takeStateEvents(n: number): void {
    this.#parent?.takeStateEvents(n);
    this.#stateEvents -= n;
    if (this.#stateEvents < 0) {
      throw new PduRejection('missing-events', 'too many state events to fetch', false);
    }
  }
}

async function fetchEvent(
  deps: HandlerDeps,
  origin: string,
  eventId: string,
  budget: FetchBudget,
): Promise<unknown> {
  if (budget.prefetched.has(eventId)) {
    const pdu = budget.prefetched.get(eventId);
    budget.prefetched.delete(eventId);
    return pdu;
  }
  budget.takeEvents();
  return fetchEventNow(deps, origin, eventId);
}

async function fetchEventNow(deps: HandlerDeps, origin: string, eventId: string): Promise<unknown> {
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
  budget: FetchBudget,
  depth = 0,
): Promise<void> {
  for (const id of checked.dag.auth_events) {
    // Walked once per PDU: an event met again (a diamond in the DAG, or one whose own auth
    // events are still being walked) is not fetched again.
    if (budget.visited.has(id)) continue;
    if (await isStored(deps.ctx.db, id)) continue;
    if (depth >= MAX_AUTH_FETCH_DEPTH) {
      throw new PduRejection('auth-events', 'auth chain too deep to fetch', false);
    }
    budget.visited.add(id);
    try {
      await fetchAuthEvent(deps, origin, checked, id, budget, depth);
    } catch (error) {
      // Not had after all: a later event citing it fetches it again (or fails likewise).
      budget.visited.delete(id);
      throw error;
    }
  }
}

async function fetchAuthEvent(
  deps: HandlerDeps,
  origin: string,
  checked: CheckedPdu,
  id: string,
  budget: FetchBudget,
  depth: number,
): Promise<void> {
  let pdu: unknown;
  try {
    pdu = await fetchEvent(deps, origin, id, budget);
  } catch (error) {
    if (error instanceof PduRejection) throw error;
    throw new PduRejection('auth-events', `cannot fetch auth event ${id}`, false, error);
  }
  const auth = checkFormat(pdu, checked.roomVersion, checked.rules);
  if (auth.eventId !== id || auth.roomId !== checked.roomId) {
    throw new PduRejection('auth-events', `server answered a different event for ${id}`, false);
  }
  applyHashCheck(auth, await checkSignatures(deps, auth));
  await fetchAuthEvents(deps, origin, auth, budget, depth + 1);
  await storeCheckedOutlier(deps, auth);
}

/**
 * Stores a fetched event (format, signatures and hashes checked, auth events stored) as an
 * outlier after step 4 of https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu:
 * rejected when its own auth events do not allow it. Returns whether it was rejected.
 */
async function storeCheckedOutlier(deps: HandlerDeps, event: CheckedPdu): Promise<boolean> {
  const authEvents = await loadDagEvents(deps.ctx.db, authEventIdsToLoad(event));
  requireAuthEvents(event, authEvents);
  let rejected = false;
  try {
    authAgainstAuthEvents(event, authEvents);
  } catch (error) {
    if (!(error instanceof PduRejection)) throw error;
    rejected = true;
  }
  await deps.ctx.db.transaction((tx) => storeOutlier(tx, event, rejected));
  return rejected;
}

/**
 * Throws a fetch failure (no verdict) unless every auth event of `checked` is in `authEvents`:
 * one still being walked (met again in its own auth chain) is not had, and its absence is no
 * failure of the auth rules.
 */
export function requireAuthEvents(
  checked: CheckedPdu,
  authEvents: ReadonlyMap<string, DagEvent>,
): void {
  for (const id of checked.dag.auth_events) {
    if (!authEvents.has(id)) {
      throw new PduRejection('auth-events', `auth event ${id} unavailable`, false);
    }
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

/** The room ID each stored event among `ids` is stored under. */
/** Which of `ids` are stored (in any form), a chunked `IN` list at a time. */
async function storedOf(db: SqlExecutor, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const chunk of inListChunks(ids)) {
    const rows = await db.query<{ event_id: string }>(
      `SELECT event_id FROM events WHERE event_id IN (${placeholders(chunk.length)})`,
      chunk,
    );
    for (const row of rows) out.add(row.event_id);
  }
  return out;
}

async function roomsOf(db: SqlExecutor, ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const chunk of inListChunks([...new Set(ids)])) {
    const rows = await db.query<{ event_id: string; room_id: string }>(
      `SELECT event_id, room_id FROM events WHERE event_id IN (${placeholders(chunk.length)})`,
      chunk,
    );
    for (const row of rows) out.set(row.event_id, row.room_id);
  }
  return out;
}

/**
 * The state after prev event `prevId` as `origin` reports it (`/state_ids` gives the state
 * before it; the prev event is applied on top), for step 5 of
 * https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu.
 *
 * The answer is the peer's word, so each event it names is held to the receipt checks before it
 * counts: an unknown one is fetched and checked like any fetched event (format, signatures,
 * hashes, auth against its own auth events — stored as rejected when they do not allow it,
 * https://spec.matrix.org/v1.19/server-server-api/#rejection); then the state keeps only events
 * of this room that are not rejected ("rejected events are not used as auth events or in the
 * state", ibid.), so neither a forged power-levels event nor another room's event becomes the
 * state before the PDU, its state group, or an input to state resolution.
 *
 * An answer naming more than {@link MAX_STATE_ANSWER_IDS} events, more than
 * {@link MAX_STATE_IDS} not yet held, or more unknown ones than the budget allows, is a fetch
 * failure; the unknown ones are fetched {@link STATE_FETCH_CONCURRENCY} at a time.
 */
export async function fetchStateAfter(
  deps: HandlerDeps,
  origin: string,
  checked: CheckedPdu,
  prevId: string,
  budget: FetchBudget,
): Promise<StateMap> {
  const response = await deps.client.request<{ pdu_ids?: unknown; auth_chain_ids?: unknown }>(
    origin,
    'GET',
    matrixPath`/_matrix/federation/v1/state_ids/${checked.roomId}`,
    undefined,
    { query: { event_id: prevId } },
  );
  const authChainIds = Array.isArray(response.auth_chain_ids) ? response.auth_chain_ids : [];
  const pduIds = Array.isArray(response.pdu_ids) ? response.pdu_ids : [];
  if (authChainIds.length + pduIds.length > MAX_STATE_ANSWER_IDS) {
    throw new PduRejection('missing-events', `the state at ${prevId} is too large`, false);
  }
  const isId = (id: unknown): id is string => typeof id === 'string';
  const stateIds = [...new Set(pduIds.filter(isId))];
  const ids = [...new Set([...authChainIds.filter(isId), ...stateIds, prevId])];
  const held = await storedOf(deps.ctx.db, ids);
  const unknown = ids.filter((id) => !budget.visited.has(id) && !held.has(id));
  if (unknown.length > MAX_STATE_IDS) {
    throw new PduRejection(
      'missing-events',
      `the state at ${prevId} is too large (${unknown.length} events not held)`,
      false,
    );
  }
  budget.takeStateEvents(unknown.length);
  // Fetched ahead, a few at a time; checked and stored below in order (fetchEvent takes a
  // prefetched event without a new request, so an auth event among them is fetched once).
  for (let i = 0; i < unknown.length; i += STATE_FETCH_CONCURRENCY) {
    const chunk = unknown.slice(i, i + STATE_FETCH_CONCURRENCY);
    const pdus = await Promise.all(chunk.map((id) => fetchEventNow(deps, origin, id)));
    for (const [j, id] of chunk.entries()) budget.prefetched.set(id, pdus[j]);
  }
  for (const id of unknown) {
    if (budget.visited.has(id) || (await isStored(deps.ctx.db, id))) continue;
    budget.visited.add(id);
    try {
      const event = checkFormat(
        await fetchEvent(deps, origin, id, budget),
        checked.roomVersion,
        checked.rules,
      );
      if (event.eventId !== id || event.roomId !== checked.roomId) {
        throw new PduRejection('missing-events', `server answered a different event for ${id}`);
      }
      applyHashCheck(event, await checkSignatures(deps, event));
      await fetchAuthEvents(deps, origin, event, budget);
      await storeCheckedOutlier(deps, event);
    } catch (error) {
      budget.visited.delete(id);
      budget.prefetched.clear();
      throw error;
    }
  }
  budget.prefetched.clear();
  const events = await loadDagEvents(deps.ctx.db, [...stateIds, prevId]);
  // The room each is stored under (the column: a v12 create event has no `room_id` field).
  const roomOf = await roomsOf(deps.ctx.db, [...stateIds, prevId]);
  const usable = (event: DagEvent | undefined): event is DagEvent =>
    event !== undefined && roomOf.get(event.event_id) === checked.roomId && event.rejected !== true;
  const before = new Map<string, string>();
  for (const id of stateIds) {
    const event = events.get(id);
    // Held events too: one of another room, or one stored as rejected, is no state of this room.
    if (!usable(event)) continue;
    if (event.state_key !== undefined) before.set(stateKeyOf(event.type, event.state_key), id);
  }
  const prev = events.get(prevId);
  if (prev === undefined || roomOf.get(prevId) !== checked.roomId) {
    throw new PduRejection('missing-events', `prev event ${prevId} unavailable`);
  }
  // A rejected prev event changes no state: the state after it is the state before it.
  return prev.rejected === true ? before : stateAfterEvent(prev, before);
}
