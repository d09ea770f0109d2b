/** SQL of the filters service: one row per (user, filter ID), the filter as canonical JSON. */
import type { SqlExecutor } from '../../storage/index.ts';

export async function selectFilter(
  db: SqlExecutor,
  userId: string,
  filterId: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ filter_json: string }>(
    'SELECT filter_json FROM filters WHERE user_id = $1 AND filter_id = $2',
    [userId, filterId],
  );
  return row?.filter_json;
}

/** The ID of an identical filter the user already stored, if any. */
export async function selectFilterIdByJson(
  db: SqlExecutor,
  userId: string,
  json: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ filter_id: string }>(
    'SELECT filter_id FROM filters WHERE user_id = $1 AND filter_json = $2',
    [userId, json],
  );
  return row?.filter_id;
}

export async function countFilters(db: SqlExecutor, userId: string): Promise<number> {
  const row = await db.queryOne<{ n: number }>(
    'SELECT COUNT(*) AS n FROM filters WHERE user_id = $1',
    [userId],
  );
  return Number(row?.n ?? 0);
}

export async function insertFilter(
  tx: SqlExecutor,
  userId: string,
  filterId: string,
  json: string,
): Promise<void> {
  await tx.execute('INSERT INTO filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)', [
    userId,
    filterId,
    json,
  ]);
}
