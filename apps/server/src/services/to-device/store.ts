/** SQL of the send-to-device service: `to_device_messages`, `to_device_txns`. */
import type { SqlExecutor } from '../../storage/index.ts';

/** Records a transaction ID; false when this device already used it. */
export async function claimTxnId(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  txnId: string,
  now: number,
): Promise<boolean> {
  const inserted = await tx.execute(
    `INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, device_id, txn_id) DO NOTHING`,
    [userId, deviceId, txnId, now],
  );
  return inserted > 0;
}

/** Stores one message for one device. */
export async function insertMessage(
  tx: SqlExecutor,
  message: {
    userId: string;
    deviceId: string;
    position: number;
    sender: string;
    type: string;
    content: string;
  },
): Promise<void> {
  await tx.execute(
    `INSERT INTO to_device_messages (user_id, device_id, stream_position, sender, type, content)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      message.userId,
      message.deviceId,
      message.position,
      message.sender,
      message.type,
      message.content,
    ],
  );
}

/** Every device ID of a user (the `*` target). */
export async function deviceIdsOf(db: SqlExecutor, userId: string): Promise<string[]> {
  const rows = await db.query<{ device_id: string }>(
    'SELECT device_id FROM devices WHERE user_id = $1 ORDER BY device_id',
    [userId],
  );
  return rows.map((row) => row.device_id);
}

/** Whether a user has this device. */
export async function deviceExists(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<boolean> {
  const row = await db.queryOne(
    'SELECT 1 AS one FROM devices WHERE user_id = $1 AND device_id = $2',
    [userId, deviceId],
  );
  return row !== undefined;
}

/** Pending messages of a device after message `afterId`, oldest first, at positions ≤ `to`. */
export async function pendingMessages(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  afterId: number,
  to: number,
  limit: number,
): Promise<{ id: number; sender: string; type: string; content: string }[]> {
  const rows = await db.query<{ id: number; sender: string; type: string; content: string }>(
    `SELECT id, sender, type, content FROM to_device_messages
      WHERE user_id = $1 AND device_id = $2 AND id > $3 AND stream_position <= $4
      ORDER BY id LIMIT $5`,
    [userId, deviceId, afterId, to, limit],
  );
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** Deletes a device's messages up to and including `uptoId` (delivered). */
export async function deleteDelivered(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  uptoId: number,
): Promise<void> {
  await db.execute(
    'DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2 AND id <= $3',
    [userId, deviceId, uptoId],
  );
}

/** Deletes every pending message of a device (the device was removed). */
export async function deleteAllForDevice(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<void> {
  await tx.execute('DELETE FROM to_device_messages WHERE user_id = $1 AND device_id = $2', [
    userId,
    deviceId,
  ]);
}
