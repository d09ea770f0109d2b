/**
 * The receipt pipeline for one PDU (spec https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu),
 * one step per file, in the spec's order:
 * 1. format (check-format.ts) — dropped on failure;
 * 2. signatures (check-signatures.ts) — dropped on failure;
 * 3. hashes (check-hashes.ts) — redacted on mismatch;
 * 4. auth against its auth events (auth-against-auth-events.ts; unknown auth events fetched
 *    first, fetch-missing.ts) — stored as rejected on failure;
 * 5. auth against the state before it (state-before.ts + auth-against-state.ts; missing prev
 *    events fetched with get_missing_events, or their state with state_ids) — rejected;
 * 6. soft fail against the current state (soft-fail.ts) — stored, not delivered.
 * Accepted events go into the room's timeline and current state (persist-remote.ts). Events of
 * one room are handled one at a time.
 *
 * The PDUs of one `/send` transaction are handled as a batch ({@link EventHandler.handleBatch}):
 * steps 1–3 (no database state involved beyond what is committed) run first, outside any write
 * transaction; then steps 4–6 and the storing of every PDU share one database transaction, each
 * PDU reading through it (so it sees the PDUs before it) inside its own SAVEPOINT, so a PDU that
 * fails unexpectedly is rolled back alone. A PDU that needs the network (unknown auth or prev
 * events) ends the batch there: what came before is committed, that PDU takes the one-by-one
 * path, and a new batch starts after it.
 *
 * What one PDU may cost in events fetched and processed while filling its gaps (auth chains,
 * get_missing_events, state_ids) is bounded per PDU and per transaction (fetch-missing.ts
 * `FetchBudget`): all of it runs under the room's lock, for whatever DAG the sender describes.
 */
import { authEventsSelection, type DagEvent, type StateMap, stateKeyOf } from '@weft/dag';
import type { SqlExecutor, TransactionExecutor } from '../../../storage/index.ts';
import { rulesOf } from '../../rooms/service.ts';
import { serverAllowedInRoom } from '../acl.ts';
import { authAgainstAuthEvents, authEventIdsToLoad } from './auth-against-auth-events.ts';
import { authAgainstState } from './auth-against-state.ts';
import { BatchMemo } from './batch-memo.ts';
import { checkFormat } from './check-format.ts';
import { applyHashCheck } from './check-hashes.ts';
import { checkSignatures } from './check-signatures.ts';
import {
  FetchBudget,
  fetchAuthEvents,
  fetchStateAfter,
  getMissingEvents,
  missingPrevEvents,
  requireAuthEvents,
} from './fetch-missing.ts';
import { isStored, loadDagEvents, persistRemote, storeOutlier } from './persist-remote.ts';
import { isSoftFailed } from './soft-fail.ts';
import { stateBefore } from './state-before.ts';
import { type CheckedPdu, type HandlerDeps, PduRejection } from './types.ts';

/** The outcome for one PDU. */
export type PduOutcome =
  | { readonly eventId: string; readonly status: 'accepted' | 'soft-failed' | 'duplicate' }
  | { readonly eventId: string; readonly status: 'rejected'; readonly error: string };

/** A PDU past steps 1–3, or the outcome that ended it there. */
type Prechecked =
  | { readonly checked: CheckedPdu; readonly outcome?: undefined }
  | { readonly checked?: undefined; readonly outcome: PduOutcome };

/** The verdict of steps 4–6 for a PDU whose auth and prev events are all stored. */
interface Verdict {
  readonly before: Map<string, string>;
  readonly rejected: boolean;
  readonly error: string;
  readonly softFailed: boolean;
}

/** Called after an event was accepted into a room (EDU routing, metrics). */
export type AcceptedListener = (roomId: string, eventId: string) => void;

/** Runs the receipt checks and stores what passes. */
export class EventHandler {
  readonly #deps: HandlerDeps;
  readonly #roomLocks = new Map<string, Promise<unknown>>();
  /** Rooms seen with a state (they keep one: a state group is never unset). */
  readonly #roomsWithState = new Set<string>();

  constructor(deps: HandlerDeps) {
    this.#deps = deps;
  }

  /** Handles one PDU received from `origin` (in a transaction or fetched). */
  async handle(origin: string, pdu: unknown): Promise<PduOutcome> {
    const roomId = (pdu as Record<string, unknown> | null)?.['room_id'];
    if (typeof roomId !== 'string') {
      return { eventId: '', status: 'rejected', error: 'PDU has no room_id' };
    }
    return this.#inRoom(roomId, () => this.#handle(origin, pdu, roomId, 0, new FetchBudget()));
  }

  /**
   * Handles the PDUs of one inbound transaction from `origin`, in order; returns one outcome
   * per PDU. Everything it stored is committed when it returns ("acknowledged ⇒ durable").
   */
  async handleBatch(origin: string, pdus: readonly unknown[]): Promise<PduOutcome[]> {
    const outcomes: PduOutcome[] = [];
    const pending: Array<{ index: number; checked: CheckedPdu }> = [];
    // Steps 1–3 write no current state, so one ACL read per room serves them all (the
    // transaction below reads it again per PDU, as PDUs of the batch may change it).
    const allowedBefore = new Map<string, boolean>();
    const memo = new BatchMemo();
    // What the PDUs that need the network may cost together (each also has its own bound).
    const budget = FetchBudget.forTransaction();
    for (const [index, pdu] of pdus.entries()) {
      const roomId = (pdu as Record<string, unknown> | null)?.['room_id'];
      if (typeof roomId !== 'string') {
        outcomes[index] = { eventId: '', status: 'rejected', error: 'PDU has no room_id' };
        continue;
      }
      const prechecked = await this.#precheck(
        origin,
        pdu,
        roomId,
        0,
        this.#deps.ctx.db,
        allowedBefore,
      );
      if (prechecked.outcome !== undefined) outcomes[index] = prechecked.outcome;
      else pending.push({ index, checked: prechecked.checked });
    }
    let next = 0;
    while (next < pending.length) {
      const run = pending.slice(next);
      const roomIds = [...new Set(run.map((item) => item.checked.roomId))].sort();
      const done = await this.#inRooms(roomIds, () =>
        this.#deps.ctx.db.transaction(async (tx) => {
          let count = 0;
          for (const item of run) {
            const outcome = await this.#inSavepoint(tx, origin, item.checked, memo);
            if (outcome === undefined) break;
            outcomes[item.index] = outcome;
            count += 1;
          }
          return count;
        }),
      );
      next += done;
      if (next < pending.length) {
        // It needs events fetched from the network: the one-by-one path, outside the batch.
        const { index, checked } = pending[next] as { index: number; checked: CheckedPdu };
        outcomes[index] = await this.#inRoom(checked.roomId, () =>
          this.#handle(origin, checked.pdu, checked.roomId, 0, budget.forPdu(), checked),
        );
        next += 1;
      }
    }
    return outcomes;
  }

  /** Runs `work` holding the locks of every room in `roomIds` (sorted: no lock-order cycle). */
  #inRooms<T>(roomIds: readonly string[], work: () => Promise<T>): Promise<T> {
    const [first, ...rest] = roomIds;
    if (first === undefined) return work();
    return this.#inRoom(first, () => this.#inRooms(rest, work));
  }

  /**
   * Steps 4–6 and storing for one PDU of a batch, through the batch's transaction `tx` inside a
   * SAVEPOINT; `undefined` (nothing written) when the PDU needs events fetched first.
   */
  async #inSavepoint(
    tx: TransactionExecutor,
    origin: string,
    checked: CheckedPdu,
    memo: BatchMemo,
  ): Promise<PduOutcome | undefined> {
    try {
      // A PDU that fails takes back its writes and what they would have announced after commit.
      return await tx.savepoint(() => this.#checkAndStoreInBatch(tx, origin, checked, memo));
    } catch (failure) {
      memo.forget();
      return this.#failed(tx, origin, checked.roomId, checked, failure);
    }
  }

  async #checkAndStoreInBatch(
    tx: SqlExecutor,
    origin: string,
    checked: CheckedPdu,
    memo: BatchMemo,
  ): Promise<PduOutcome | undefined> {
    // The ACL and the duplicate check again, now that earlier PDUs of the batch are visible.
    const seen = await this.#seenBefore(tx, origin, checked, 0);
    if (seen !== undefined) return seen;
    // With the v12 create event, which the memo reads once for the whole batch.
    const authEvents = await memo.events(tx, authEventIdsToLoad(checked));
    if (checked.dag.auth_events.some((id) => !authEvents.has(id))) return undefined;
    if ((await missingPrevEvents(this.#deps, checked, tx)).length > 0) return undefined;
    authAgainstAuthEvents(checked, authEvents);
    const verdict = await this.#verdict(tx, checked, new Map(), memo);
    const outcome = await this.#store(tx, checked, verdict);
    memo.forgetEvent(checked.eventId);
    return outcome;
  }

  /**
   * Whether this server holds the room's state. A room known only from an invite (a row with
   * no state, receive-invite.ts) is not joined: events of it would build a state from nothing
   * and make a later join skip the resident server's `send_join`.
   */
  async #hasState(roomId: string): Promise<boolean> {
    if (this.#roomsWithState.has(roomId)) return true;
    const row = await this.#deps.ctx.db.queryOne<{ current_state_group: number | null }>(
      'SELECT current_state_group FROM rooms WHERE room_id = $1',
      [roomId],
    );
    if (row?.current_state_group == null) return false;
    this.#roomsWithState.add(roomId);
    return true;
  }

  async #inRoom<T>(roomId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#roomLocks.get(roomId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#roomLocks.set(roomId, settled);
    void settled.then(() => {
      if (this.#roomLocks.get(roomId) === settled) this.#roomLocks.delete(roomId);
    });
    return next;
  }

  /**
   * Steps 1–3 (format, ACL, signatures, hashes) and the duplicate check, reading through `db`;
   * none of them depends on events stored by this batch beyond what is rechecked later.
   */
  async #precheck(
    origin: string,
    pdu: unknown,
    roomId: string,
    depth: number,
    db: SqlExecutor,
    allowedBefore?: Map<string, boolean>,
  ): Promise<Prechecked> {
    const deps = this.#deps;
    let checked: CheckedPdu | undefined;
    try {
      const roomVersion = await deps.rooms.roomVersion(roomId);
      if (roomVersion === undefined || !(await this.#hasState(roomId))) {
        throw new PduRejection('unknown-room', `this server is not in room ${roomId}`);
      }
      checked = checkFormat(pdu, roomVersion, rulesOf(roomVersion));
      if (checked.roomId !== roomId) {
        // A fetched event (get_missing_events) is handled as an event of the room it was
        // asked for: one of another room is not this room's, nor checked with that room's
        // version, state or ACL.
        throw new PduRejection('format', `event is not of room ${roomId}`);
      }
      const seen = await this.#seenBefore(db, origin, checked, depth, allowedBefore);
      if (seen !== undefined) return { outcome: seen };
      applyHashCheck(checked, await checkSignatures(deps, checked));
      return { checked };
    } catch (failure) {
      return { outcome: await this.#failed(db, origin, roomId, checked, failure) };
    }
  }

  /**
   * The verdict for a PDU this server has seen (or whose origin the room's ACL denies), or
   * `undefined` for a new one. `allowed` remembers the ACL's answer by room, where the caller
   * knows it cannot change meanwhile.
   */
  async #seenBefore(
    db: SqlExecutor,
    origin: string,
    checked: CheckedPdu,
    depth: number,
    allowed?: Map<string, boolean>,
  ): Promise<PduOutcome | undefined> {
    // Spec "Server Access Control Lists": /send is protected per PDU — a PDU of a room whose
    // ACL denies the transaction's origin is dropped (events fetched while filling a gap
    // come from a server this server chose to ask).
    if (depth === 0) {
      let ok = allowed?.get(checked.roomId);
      if (ok === undefined) {
        ok = await serverAllowedInRoom(db, checked.roomId, origin);
        allowed?.set(checked.roomId, ok);
      }
      if (!ok) throw new PduRejection('server-acl', 'M_FORBIDDEN: server denied by the room ACL');
    }
    const existing = await db.queryOne<{ state_group: number | null; rejected: number }>(
      'SELECT state_group, rejected FROM events WHERE event_id = $1',
      [checked.eventId],
    );
    if (existing !== undefined && Number(existing.rejected) === 1) {
      // Seen before and rejected: a resend gets the same verdict, not an acknowledgement.
      return { eventId: checked.eventId, status: 'rejected', error: 'event was rejected' };
    }
    if (existing !== undefined && existing.state_group !== null) {
      return { eventId: checked.eventId, status: 'duplicate' };
    }
    return undefined;
  }

  /** Steps 5 and 6: auth against the state before the event, soft fail against the current. */
  async #verdict(
    db: SqlExecutor,
    checked: CheckedPdu,
    knownStates: Map<string, StateMap>,
    memo = new BatchMemo(),
  ): Promise<Verdict> {
    const deps = this.#deps;
    const before = await stateBefore(db, deps.rooms, checked, knownStates);
    // The auth rules read only the create event and the auth events selection.
    const wanted = new Map<string, string>();
    for (const [type, stateKey] of [
      ['m.room.create', ''] as [string, string],
      ...authEventsSelection(checked.dag, checked.rules),
    ]) {
      const key = stateKeyOf(type, stateKey);
      const id = before.get(key);
      if (id !== undefined) wanted.set(key, id);
    }
    const beforeEvents = await memo.events(db, [...wanted.values()]);
    const beforeState = new Map<string, DagEvent>();
    for (const [key, id] of wanted) {
      const event = beforeEvents.get(id);
      if (event !== undefined) beforeState.set(key, event);
    }
    let rejected = false;
    let error = '';
    try {
      authAgainstState(checked, beforeState);
    } catch (failure) {
      if (!(failure instanceof PduRejection)) throw failure;
      rejected = true;
      error = failure.message;
    }
    const softFailed =
      !rejected && isSoftFailed(checked, await this.#currentAuthState(db, checked, memo));
    return { before, rejected, error, softFailed };
  }

  /** Stores `checked` with its verdict through `tx`; `/sync` is woken once it is committed. */
  async #store(tx: SqlExecutor, checked: CheckedPdu, verdict: Verdict): Promise<PduOutcome> {
    const { notifier } = this.#deps.ctx;
    const position = await persistRemote(tx, this.#deps.rooms, checked, {
      stateBefore: verdict.before,
      rejected: verdict.rejected,
      softFailed: verdict.softFailed,
    });
    if (position !== null) tx.afterCommit(() => notifier.notify(position));
    if (verdict.rejected) {
      return { eventId: checked.eventId, status: 'rejected', error: verdict.error };
    }
    return { eventId: checked.eventId, status: verdict.softFailed ? 'soft-failed' : 'accepted' };
  }

  /**
   * The outcome of a PDU whose handling threw: a {@link PduRejection} that says so is stored as
   * rejected (through `db`, a transaction or the database); anything else is logged. The error
   * returned goes to the remote server in the `/send` reply: a rejection's own message, never
   * the text of an internal error (which can name hosts and addresses), which is logged only.
   */
  async #failed(
    db: SqlExecutor,
    origin: string,
    roomId: string,
    checked: CheckedPdu | undefined,
    failure: unknown,
  ): Promise<PduOutcome> {
    if (!(failure instanceof PduRejection)) {
      this.#deps.ctx.log.warn('PDU handling failed', {
        origin,
        room_id: roomId,
        error: (failure as Error).message,
      });
      return {
        eventId: checked?.eventId ?? '',
        status: 'rejected',
        error: 'could not process event',
      };
    }
    if (failure.cause !== undefined) {
      this.#deps.ctx.log.warn('PDU rejected', {
        origin,
        room_id: roomId,
        event_id: checked?.eventId,
        reason: failure.message,
        error: (failure.cause as Error).message,
      });
    }
    if (failure.store && checked !== undefined && !(await isStored(db, checked.eventId))) {
      const rejectedPdu = checked;
      if (db === this.#deps.ctx.db) {
        await this.#deps.ctx.db.transaction((tx) => storeOutlier(tx, rejectedPdu, true));
      } else {
        await storeOutlier(db, rejectedPdu, true);
      }
    }
    return { eventId: checked?.eventId ?? '', status: 'rejected', error: failure.message };
  }

  /**
   * One PDU on its own (fetched events, `handle`, and batch PDUs that need the network): each
   * step reads committed data and the PDU is stored in a transaction of its own. `prechecked`
   * is the PDU when steps 1–3 already passed in a batch. `budget` bounds the events fetched
   * and processed for it (shared with the events fetched to fill its gap, handled here too).
   */
  async #handle(
    origin: string,
    pdu: unknown,
    roomId: string,
    depth: number,
    budget: FetchBudget,
    prechecked?: CheckedPdu,
  ): Promise<PduOutcome> {
    const deps = this.#deps;
    const { db } = deps.ctx;
    let checked = prechecked;
    if (checked === undefined) {
      const result = await this.#precheck(origin, pdu, roomId, depth, db);
      if (result.outcome !== undefined) return result.outcome;
      checked = result.checked;
    }
    try {
      // Rechecked: a batch PDU may have been stored by the events committed before it.
      if (prechecked !== undefined) {
        const seen = await this.#seenBefore(db, origin, prechecked, depth);
        if (seen !== undefined) return seen;
      }
      await fetchAuthEvents(deps, origin, checked, budget);
      const authEvents = await loadDagEvents(db, authEventIdsToLoad(checked));
      requireAuthEvents(checked, authEvents);
      authAgainstAuthEvents(checked, authEvents);
      const knownStates = await this.#fillGap(origin, checked, depth, budget);
      const verdict = await this.#verdict(db, checked, knownStates);
      const final = checked;
      return await db.transaction((tx) => this.#store(tx, final, verdict));
    } catch (failure) {
      return this.#failed(db, origin, roomId, checked, failure);
    }
  }

  /**
   * Fetches missing prev events (get_missing_events, processed oldest first); for any still
   * missing, the state after them from state_ids.
   */
  async #fillGap(
    origin: string,
    checked: CheckedPdu,
    depth: number,
    budget: FetchBudget,
  ): Promise<Map<string, StateMap>> {
    const known = new Map<string, StateMap>();
    let missing = await missingPrevEvents(this.#deps, checked);
    if (missing.length === 0) return known;
    if (depth < 2) {
      try {
        for (const event of await getMissingEvents(this.#deps, origin, checked)) {
          // Each event of the answer handled (and its own gap filled) counts against the
          // PDU's budget: two levels of answers of `limit` events each are not walked unbounded.
          budget.takeEvents();
          await this.#handle(origin, event, checked.roomId, depth + 1, budget);
        }
      } catch (error) {
        this.#deps.ctx.log.debug('get_missing_events failed', { error: (error as Error).message });
      }
      missing = await missingPrevEvents(this.#deps, checked);
    }
    // Past its budget the PDU is not judged (a fetch failure, nothing stored for it).
    budget.ensureLeft();
    for (const prevId of missing) {
      try {
        budget.takeEvents();
        known.set(prevId, await fetchStateAfter(this.#deps, origin, checked, prevId, budget));
      } catch (error) {
        if (error instanceof PduRejection) throw error;
        throw new PduRejection('missing-events', `cannot get the state at ${prevId}`, false, error);
      }
    }
    return known;
  }

  /**
   * The current-state entries soft-fail checking needs: create + the auth events selection, read
   * in one statement (one `(type, state_key)` pair per OR branch, each an index lookup).
   */
  async #currentAuthState(
    db: SqlExecutor,
    checked: CheckedPdu,
    memo: BatchMemo,
  ): Promise<Map<string, DagEvent>> {
    const keys = new Map<string, [string, string]>();
    for (const [type, stateKey] of [
      ['m.room.create', ''] as const,
      ...authEventsSelection(checked.dag, checked.rules),
    ]) {
      keys.set(stateKeyOf(type, stateKey), [type, stateKey]);
    }
    const params: string[] = [checked.roomId];
    const pairs: string[] = [];
    for (const [type, stateKey] of keys.values()) {
      params.push(type, stateKey);
      pairs.push(`(type = $${params.length - 1} AND state_key = $${params.length})`);
    }
    const rows = await db.query<{ type: string; state_key: string; event_id: string }>(
      `SELECT type, state_key, event_id FROM room_current_state
        WHERE room_id = $1 AND (${pairs.join(' OR ')})`,
      params,
    );
    const events = await memo.events(
      db,
      rows.map((row) => row.event_id),
    );
    const state = new Map<string, DagEvent>();
    for (const row of rows) {
      const event = events.get(row.event_id);
      if (event !== undefined) state.set(stateKeyOf(row.type, row.state_key), event);
    }
    return state;
  }
}
