/** SQL of the receipts service: `receipts`. */
import type { SqlExecutor } from '../../storage/index.ts';

/** A `receipts` row. */
export type ReceiptRow = {
  readonly room_id: string;
  readonly receipt_type: string;
  readonly user_id: string;
  readonly thread_id: string;
  readonly event_id: string;
  readonly ts: number;
  readonly stream_position: number;
};

/** Sets the receipt of (room, type, user, thread) to an event at a stream position. */
export async function upsertReceipt(
  tx: SqlExecutor,
  receipt: Omit<ReceiptRow, 'stream_position'> & { readonly position: number },
): Promise<void> {
  await tx.execute(
    `INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts, stream_position)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (room_id, receipt_type, user_id, thread_id)
     DO UPDATE SET event_id = excluded.event_id, ts = excluded.ts,
                   stream_position = excluded.stream_position`,
    [
      receipt.room_id,
      receipt.receipt_type,
      receipt.user_id,
      receipt.thread_id,
      receipt.event_id,
      receipt.ts,
      receipt.position,
    ],
  );
}

/**
 * The event a user's receipt of a type and thread points at, if any, with that event's stream
 * position (`null`: an event this server has no timeline position for).
 */
export async function currentReceipt(
  db: SqlExecutor,
  roomId: string,
  receiptType: string,
  userId: string,
  threadId: string,
): Promise<{ event_id: string; position: number | null } | undefined> {
  const row = await db.queryOne<{ event_id: string; position: number | null }>(
    `SELECT r.event_id, e.stream_position AS position
       FROM receipts r LEFT JOIN events e ON e.event_id = r.event_id
      WHERE r.room_id = $1 AND r.receipt_type = $2 AND r.user_id = $3 AND r.thread_id = $4`,
    [roomId, receiptType, userId, threadId],
  );
  if (row === undefined) return undefined;
  return { event_id: row.event_id, position: row.position === null ? null : Number(row.position) };
}

/** The stream position of a receipt's event, if this server has it in a timeline. */
export async function receiptTargetPosition(
  db: SqlExecutor,
  eventId: string,
): Promise<number | undefined> {
  const row = await db.queryOne<{ stream_position: number | null }>(
    'SELECT stream_position FROM events WHERE event_id = $1',
    [eventId],
  );
  return row?.stream_position == null ? undefined : Number(row.stream_position);
}

/** Receipts of a room with positions in (`from`, `to`] (all current ones for `from` 0). */
export async function receiptsBetween(
  db: SqlExecutor,
  roomId: string,
  from: number,
  to: number,
): Promise<ReceiptRow[]> {
  return db.query<ReceiptRow>(
    `SELECT room_id, receipt_type, user_id, thread_id, event_id, ts, stream_position
       FROM receipts WHERE room_id = $1 AND stream_position > $2 AND stream_position <= $3
      ORDER BY stream_position`,
    [roomId, from, to],
  );
}

/** Rooms among those given with a receipt in (`from`, `to`]. */
export async function roomsWithReceiptsBetween(
  db: SqlExecutor,
  from: number,
  to: number,
): Promise<Set<string>> {
  const rows = await db.query<{ room_id: string }>(
    'SELECT DISTINCT room_id FROM receipts WHERE stream_position > $1 AND stream_position <= $2',
    [from, to],
  );
  return new Set(rows.map((row) => row.room_id));
}
