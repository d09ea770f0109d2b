/**
 * `unsigned.prev_content` of a local state event is a copy, taken when the event is persisted
 * (persist-event.ts), of the content of the state event it replaced (`unsigned.replaces_state`).
 * A redaction of that replaced event must reach the copy too (spec client-server-api
 * "Redactions": a redacted event's content is stripped wherever the server serves it; `prev_content`
 * in "ClientEvent" is the previous content of that state entry): a replaced event redacted
 * before the copy is taken is copied redacted (`prevContentOf`), and one redacted later has the
 * copies in the events that replaced it redacted in place (`redactPrevContentCopies`).
 */
import { parseAnyJson } from '@weft/canonical-json';
import { redactEvent } from '@weft/signing';

import type { SqlExecutor } from '../../storage/index.ts';
import type { EventStore } from './event-store.ts';
import type { StoredEvent } from './types.ts';

/** The content a state event replacing `previous` copies into `unsigned.prev_content`. */
export function prevContentOf(previous: StoredEvent): unknown {
  if (previous.redactedBecause === undefined) return previous.pdu['content'];
  return redactEvent(previous.pdu, previous.roomVersion)['content'];
}

/**
 * After `redaction` (an `m.room.redaction` of `targetId`, inside the write `tx`): redacts the
 * `prev_content` copies of the events whose `replaces_state` is `targetId`, and evicts them from
 * the event cache, now and once committed.
 */
export async function redactPrevContentCopies(
  tx: SqlExecutor,
  events: EventStore,
  roomId: string,
  targetId: string,
): Promise<void> {
  const target = await events.get(tx, targetId, false);
  if (target === undefined || target.stateKey === undefined || target.roomId !== roomId) return;
  const rows = await tx.query<{ event_id: string; unsigned: string }>(
    `SELECT event_id, unsigned FROM events
      WHERE room_id = $1 AND type = $2 AND state_key = $3 AND unsigned IS NOT NULL`,
    [roomId, target.type, target.stateKey],
  );
  const redacted = redactEvent(target.pdu, target.roomVersion)['content'];
  const changed: string[] = [];
  for (const row of rows) {
    const unsigned = parseAnyJson(row.unsigned) as Record<string, unknown>;
    if (unsigned['replaces_state'] !== targetId || !('prev_content' in unsigned)) continue;
    unsigned['prev_content'] = redacted;
    await tx.execute('UPDATE events SET unsigned = $1 WHERE event_id = $2', [
      JSON.stringify(unsigned),
      row.event_id,
    ]);
    changed.push(row.event_id);
  }
  if (changed.length > 0) events.evictOnCommit(tx, changed);
}
