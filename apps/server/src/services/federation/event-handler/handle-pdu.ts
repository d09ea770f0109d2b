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
 */
import { authEventsSelection, type DagEvent, type StateMap, stateKeyOf } from '@weft/dag';

import { rulesOf } from '../../rooms/service.ts';
import { serverAllowedInRoom } from '../acl.ts';
import { authAgainstAuthEvents } from './auth-against-auth-events.ts';
import { authAgainstState } from './auth-against-state.ts';
import { checkFormat } from './check-format.ts';
import { applyHashCheck } from './check-hashes.ts';
import { checkSignatures } from './check-signatures.ts';
import {
  fetchAuthEvents,
  fetchStateAfter,
  getMissingEvents,
  missingPrevEvents,
} from './fetch-missing.ts';
import { isStored, loadDagEvents, persistRemote, storeOutlier } from './persist-remote.ts';
import { isSoftFailed } from './soft-fail.ts';
import { stateBefore } from './state-before.ts';
import { type CheckedPdu, type HandlerDeps, PduRejection } from './types.ts';

/** The outcome for one PDU. */
export type PduOutcome =
  | { readonly eventId: string; readonly status: 'accepted' | 'soft-failed' | 'duplicate' }
  | { readonly eventId: string; readonly status: 'rejected'; readonly error: string };

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
    return this.#inRoom(roomId, () => this.#handle(origin, pdu, roomId, 0));
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

  async #handle(origin: string, pdu: unknown, roomId: string, depth: number): Promise<PduOutcome> {
    const deps = this.#deps;
    const roomVersion = await deps.rooms.roomVersion(roomId);
    let checked: CheckedPdu | undefined;
    try {
      if (roomVersion === undefined || !(await this.#hasState(roomId))) {
        throw new PduRejection('unknown-room', `this server is not in room ${roomId}`);
      }
      checked = checkFormat(pdu, roomVersion, rulesOf(roomVersion));
      // Spec "Server Access Control Lists": /send is protected per PDU — a PDU of a room whose
      // ACL denies the transaction's origin is dropped (events fetched while filling a gap
      // come from a server this server chose to ask).
      if (depth === 0 && !(await serverAllowedInRoom(deps.ctx.db, roomId, origin))) {
        throw new PduRejection('server-acl', 'M_FORBIDDEN: server denied by the room ACL');
      }
      const existing = await deps.ctx.db.queryOne<{ state_group: number | null; rejected: number }>(
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
      applyHashCheck(checked, await checkSignatures(deps, checked));
      await fetchAuthEvents(deps, origin, checked);
      authAgainstAuthEvents(checked, await loadDagEvents(deps.ctx.db, checked.dag.auth_events));

      const knownStates = await this.#fillGap(origin, checked, depth);
      const before = await stateBefore(deps.ctx.db, deps.rooms, checked, knownStates);
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
      const beforeEvents = await loadDagEvents(deps.ctx.db, [...wanted.values()]);
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
      const softFailed = !rejected && isSoftFailed(checked, await this.#currentAuthState(checked));
      const final = checked;
      const position = await deps.ctx.db.transaction((tx) =>
        persistRemote(tx, deps.rooms, final, { stateBefore: before, rejected, softFailed }),
      );
      if (position !== null) deps.ctx.notifier.notify(position);
      if (rejected) return { eventId: checked.eventId, status: 'rejected', error };
      return { eventId: checked.eventId, status: softFailed ? 'soft-failed' : 'accepted' };
    } catch (failure) {
      if (!(failure instanceof PduRejection)) {
        deps.ctx.log.warn('PDU handling failed', {
          origin,
          room_id: roomId,
          error: (failure as Error).message,
        });
        return {
          eventId: checked?.eventId ?? '',
          status: 'rejected',
          error: `could not process: ${(failure as Error).message}`,
        };
      }
      if (
        failure.store &&
        checked !== undefined &&
        !(await isStored(deps.ctx.db, checked.eventId))
      ) {
        const rejectedPdu = checked;
        await deps.ctx.db.transaction((tx) => storeOutlier(tx, rejectedPdu, true));
      }
      return { eventId: checked?.eventId ?? '', status: 'rejected', error: failure.message };
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
  ): Promise<Map<string, StateMap>> {
    const known = new Map<string, StateMap>();
    let missing = await missingPrevEvents(this.#deps, checked);
    if (missing.length === 0) return known;
    if (depth < 2) {
      try {
        for (const event of await getMissingEvents(this.#deps, origin, checked)) {
          await this.#handle(origin, event, checked.roomId, depth + 1);
        }
      } catch (error) {
        this.#deps.ctx.log.debug('get_missing_events failed', { error: (error as Error).message });
      }
      missing = await missingPrevEvents(this.#deps, checked);
    }
    for (const prevId of missing) {
      try {
        known.set(prevId, await fetchStateAfter(this.#deps, origin, checked, prevId));
      } catch (error) {
        if (error instanceof PduRejection) throw error;
        throw new PduRejection(
          'missing-events',
          `cannot get the state at ${prevId}: ${(error as Error).message}`,
        );
      }
    }
    return known;
  }

  /** The current-state entries soft-fail checking needs: create + the auth events selection. */
  async #currentAuthState(checked: CheckedPdu): Promise<Map<string, DagEvent>> {
    const keys: Array<[string, string]> = [
      ['m.room.create', ''],
      ...authEventsSelection(checked.dag, checked.rules).map(
        ([type, stateKey]) => [type, stateKey] as [string, string],
      ),
    ];
    const ids = new Map<string, string>();
    for (const [type, stateKey] of keys) {
      const row = await this.#deps.ctx.db.queryOne<{ event_id: string }>(
        'SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = $3',
        [checked.roomId, type, stateKey],
      );
      if (row !== undefined) ids.set(stateKeyOf(type, stateKey), row.event_id);
    }
    const events = await loadDagEvents(this.#deps.ctx.db, [...ids.values()]);
    const state = new Map<string, DagEvent>();
    for (const [key, id] of ids) {
      const event = events.get(id);
      if (event !== undefined) state.set(key, event);
    }
    return state;
  }
}
