/**
 * The thread an event belongs to (client-server-api "Threading", "Threaded read receipts",
 * push "Receiving notifications": the server partitions notification counts per thread, the
 * main timeline being its own thread): an `m.thread` relation's `event_id`; an event with any
 * other relation inherits the thread of its target (an edit or reaction of a thread reply is in
 * that thread), following at most {@link THREAD_HOPS} relations as Synapse does; anything else,
 * the thread roots included, is the main timeline (`main`).
 */
import type { SqlExecutor } from '../../storage/index.ts';
import { relationOf } from './relation.ts';

/** The main timeline's thread ID (spec "Threaded read receipts"). */
export const MAIN_THREAD = 'main';

/** How many relations `threadOf` follows looking for an `m.thread` one. */
export const THREAD_HOPS = 3;

/**
 * The thread of the event whose PDU is `pdu` in `roomId`: its root's event ID or `main`. An
 * event without `m.relates_to` costs no query; the targets' relations come from the
 * `event_relations` index (migration 0107).
 */
export async function threadOf(
  db: SqlExecutor,
  roomId: string,
  pdu: Readonly<Record<string, unknown>>,
): Promise<string> {
  let relation = relationOf(pdu);
  for (let hop = 0; relation !== undefined && hop < THREAD_HOPS; hop++) {
    if (relation.relType === 'm.thread') return relation.eventId;
    if (hop === THREAD_HOPS - 1) break;
    const parent = await db.queryOne<{ relates_to_id: string; rel_type: string }>(
      'SELECT relates_to_id, rel_type FROM event_relations WHERE event_id = $1 AND room_id = $2',
      [relation.eventId, roomId],
    );
    relation =
      parent === undefined
        ? undefined
        : { relType: parent.rel_type, eventId: parent.relates_to_id };
  }
  return MAIN_THREAD;
}
