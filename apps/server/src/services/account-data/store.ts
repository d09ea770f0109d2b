/** SQL of the account-data service: one row per (user, room or '' for global, type). */
import type { SqlExecutor } from '../../storage/index.ts';

/** The `room_id` value of global account data. */
export const GLOBAL_ROOM = '';

export type AccountDataRow = {
  readonly room_id: string;
  readonly type: string;
  readonly content: string;
  readonly stream_position: number;
};

export async function upsertAccountData(
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  type: string,
  content: string,
  position: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO account_data (user_id, room_id, type, content, stream_position)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (user_id, room_id, type)
     DO UPDATE SET content = excluded.content, stream_position = excluded.stream_position`,
    [userId, roomId, type, content, position],
  );
}

export async function selectAccountData(
  db: SqlExecutor,
  userId: string,
  roomId: string,
  type: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ content: string }>(
    'SELECT content FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3',
    [userId, roomId, type],
  );
  return row?.content;
}

/** Rows of one user written in (`from`, `to`], optionally of one room only. */
export function selectAccountDataBetween(
  db: SqlExecutor,
  userId: string,
  from: number,
  to: number,
  roomId?: string,
): Promise<AccountDataRow[]> {
  return roomId === undefined
    ? db.query<AccountDataRow>(
        `SELECT room_id, type, content, stream_position FROM account_data
          WHERE user_id = $1 AND stream_position > $2 AND stream_position <= $3
          ORDER BY stream_position`,
        [userId, from, to],
      )
    : db.query<AccountDataRow>(
        `SELECT room_id, type, content, stream_position FROM account_data
          WHERE user_id = $1 AND room_id = $2 AND stream_position > $3 AND stream_position <= $4
          ORDER BY stream_position`,
        [userId, roomId, from, to],
      );
}

/** Every user's global account data of `type` (the ignore lists, loaded at start). */
export function selectGlobalAccountDataOfType(
  db: SqlExecutor,
  type: string,
): Promise<{ user_id: string; content: string }[]> {
  return db.query<{ user_id: string; content: string }>(
    'SELECT user_id, content FROM account_data WHERE room_id = $1 AND type = $2',
    [GLOBAL_ROOM, type],
  );
}
