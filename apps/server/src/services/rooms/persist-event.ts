/**
 * Persisting one local event, inside the caller's write transaction (ARCHITECTURE.md "The path
 * of an event", step 4): its stream position, the event row with the PDU as signed, the state
 * after it (a state group delta), current state and membership, the new forward extremities,
 * the room's depth and the transaction ID. The caller announces the position after commit.
 */
import { stateKeyOf } from '@weft/dag';

import type { SqlExecutor } from '../../storage/index.ts';
import { nextStreamPosition } from '../core/stream.ts';
import type { BuiltEvent } from './create-event.ts';
import type { EventStore } from './event-store.ts';
import { prevContentOf } from './prev-content.ts';
import { redactsOfPdu } from './redaction-applies.ts';
import { currentStateEventId, JOINED_SINCE, type RoomRow } from './room-store.ts';
import type { StateStore } from './state-store.ts';
import { sendTxnScope } from './txn-scope.ts';
import type { StoredEvent } from './types.ts';

export interface PersistOptions {
  readonly senderDevice?: string;
  readonly txnId?: string;
  /**
   * The endpoint `txnId` belongs to (txn-scope.ts); by default `/send` of the event's room and
   * type.
   */
  readonly txnScope?: string;
}

/** Stores `built` as the newest event of `room`; returns the stored event. */
export async function persistEvent(
  tx: SqlExecutor,
  stores: { readonly events: EventStore; readonly states: StateStore },
  room: RoomRow,
  built: BuiltEvent,
  options: PersistOptions = {},
): Promise<StoredEvent> {
  const { dag, eventId } = built;
  const position = await nextStreamPosition(tx);
  let stateGroup = room.currentStateGroup;
  let unsigned: Record<string, unknown> | undefined;
  if (dag.state_key !== undefined) {
    // Spec client-server-api "Room Events": unsigned.prev_content / replaces_state describe the
    // state entry this event replaced.
    const replaced = await currentStateEventId(tx, room.roomId, dag.type, dag.state_key);
    if (replaced !== undefined) {
      const previous = await stores.events.get(tx, replaced, false);
      unsigned = { replaces_state: replaced };
      if (previous !== undefined) {
        // Redacted if the replaced event is (prev-content.ts; a later redaction redacts it then).
        unsigned['prev_content'] = prevContentOf(previous);
        unsigned['prev_sender'] = previous.sender;
      }
    }
    stateGroup = await stores.states.create(
      tx,
      room.roomId,
      room.currentStateGroup,
      new Map([[stateKeyOf(dag.type, dag.state_key), eventId]]),
    );
    await tx.execute(
      `INSERT INTO room_current_state (room_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
      [room.roomId, dag.type, dag.state_key, eventId],
    );
    const membership = dag.content['membership'];
    if (dag.type === 'm.room.member' && typeof membership === 'string') {
      await tx.execute(
        `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
         VALUES ($1, $2, $3, $4, $5, 0)
         ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership,
           event_id = excluded.event_id, stream_position = ${JOINED_SINCE}, forgotten = 0`,
        [room.roomId, dag.state_key, membership, eventId, position],
      );
    }
  }
  await tx.execute(
    `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
       origin_server_ts, pdu, unsigned, state_group, sender_device, txn_id, redacts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      eventId,
      room.roomId,
      position,
      dag.depth,
      dag.type,
      dag.state_key ?? null,
      dag.sender,
      dag.origin_server_ts,
      JSON.stringify(built.pdu),
      unsigned === undefined ? null : JSON.stringify(unsigned),
      stateGroup,
      options.senderDevice ?? null,
      options.txnId ?? null,
      redactsOfPdu(dag.type, built.pdu) ?? null,
    ],
  );
  // Local events cite every forward extremity as a prev event, so the new event is the only one.
  // The usual case, one extremity replaced by the next, is one statement instead of two.
  const replaced =
    dag.prev_events.length === 1 &&
    (await tx.execute('UPDATE room_forward_extremities SET event_id = $1 WHERE room_id = $2', [
      eventId,
      room.roomId,
    ])) === 1;
  if (!replaced) {
    await tx.execute('DELETE FROM room_forward_extremities WHERE room_id = $1', [room.roomId]);
    await tx.execute('INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2)', [
      room.roomId,
      eventId,
    ]);
  }
  await tx.execute('UPDATE rooms SET current_state_group = $1, max_depth = $2 WHERE room_id = $3', [
    stateGroup,
    Math.max(room.maxDepth, dag.depth),
    room.roomId,
  ]);
  if (options.txnId !== undefined && options.senderDevice !== undefined) {
    await tx.execute(
      `INSERT INTO event_txn_ids (user_id, device_id, txn_id, scope, event_id)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        dag.sender,
        options.senderDevice,
        options.txnId,
        options.txnScope ?? sendTxnScope(room.roomId, dag.type),
        eventId,
      ],
    );
  }
  // The event as stored, from what was just written: reading the row back cost a query and a
  // JSON parse of the PDU per send. A new row has no `redacted_by` (a redaction only marks rows
  // that exist), and NULL device/transaction columns read back as undefined.
  return {
    eventId,
    roomId: room.roomId,
    roomVersion: room.roomVersion,
    pdu: built.pdu,
    type: dag.type,
    stateKey: dag.state_key,
    sender: dag.sender,
    originServerTs: dag.origin_server_ts,
    depth: dag.depth,
    streamPosition: position,
    stateGroup,
    unsigned,
    redactedBecause: undefined,
    senderDevice: options.senderDevice,
    txnId: options.txnId,
  };
}
