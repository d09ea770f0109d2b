/**
 * The events the PDUs of one inbound `/send` batch (handle-pdu.ts `handleBatch`) read again and
 * again: the same few auth and state events (the create event, the power levels, the sender's
 * membership). Each PDU of a 50-PDU transaction used to read and parse them itself, three times
 * over (its auth events, the state before it, the current state).
 *
 * Why the memo stays exact: a stored event's JSON never changes once its row exists (redaction
 * sets `redacted_by`, a later acceptance only its stream position and state group), nor does its
 * `rejected` flag — except for an outlier that a PDU of the batch then judges in the DAG
 * (persist-remote.ts): {@link BatchMemo.forgetEvent} drops that one. What a PDU wrote may be
 * rolled back with its SAVEPOINT: {@link BatchMemo.forget} drops everything then.
 */
import type { DagEvent } from '@weft/dag';

import type { SqlExecutor } from '../../../storage/index.ts';
import { loadDagEvents } from './persist-remote.ts';

export class BatchMemo {
  readonly #events = new Map<string, DagEvent>();

  /** The stored events among `ids` (as {@link loadDagEvents}), reading only the unseen ones. */
  async events(db: SqlExecutor, ids: readonly string[]): Promise<Map<string, DagEvent>> {
    const unseen = ids.filter((id) => !this.#events.has(id));
    if (unseen.length > 0) {
      for (const [id, event] of await loadDagEvents(db, unseen)) this.#events.set(id, event);
    }
    const out = new Map<string, DagEvent>();
    for (const id of ids) {
      const event = this.#events.get(id);
      if (event !== undefined) out.set(id, event);
    }
    return out;
  }

  /** After `eventId` was stored: an outlier row of it may have taken a new verdict. */
  forgetEvent(eventId: string): void {
    this.#events.delete(eventId);
  }

  /** After a rollback: what was read may have been written by the rolled-back PDU. */
  forget(): void {
    this.#events.clear();
  }
}
