/**
 * The server's one stream of syncable changes. Every change a client learns about through
 * `/sync` (a persisted event, a receipt, a to-device message, account data, a device-list
 * change, …) takes the next position from this counter inside the transaction that writes it,
 * so a sync token is a single number and "everything after token N" is well defined. Positions
 * are allocated under the database's transaction lock, so they commit in order.
 */
import type { SqlExecutor } from '../../storage/index.ts';

/** Allocates the next stream position inside `tx` (call only inside a transaction). */
export async function nextStreamPosition(tx: SqlExecutor): Promise<number> {
  const row = await tx.queryOne<{ position: number }>(
    'UPDATE stream_position SET position = position + 1 WHERE id = 1 RETURNING position',
  );
  if (row === undefined) throw new Error('stream_position row missing (migrations not applied?)');
  return Number(row.position);
}

/** The latest allocated position (committed: read outside any open transaction). */
export async function currentStreamPosition(db: SqlExecutor): Promise<number> {
  const row = await db.queryOne<{ position: number }>(
    'SELECT position FROM stream_position WHERE id = 1',
  );
  return Number(row?.position ?? 0);
}
