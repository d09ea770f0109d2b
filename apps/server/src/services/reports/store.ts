/** SQL of the reports service: one row per report in `content_reports` (migration 0106). */
import type { SqlExecutor } from '../../storage/index.ts';

/** What one report names: an event in a room, a room, or a user. */
export type ReportTarget =
  | { readonly roomId: string; readonly eventId: string }
  | { readonly roomId: string }
  | { readonly userId: string };

export type ReportRow = {
  readonly reporter: string;
  readonly room_id: string | null;
  readonly event_id: string | null;
  readonly target_user_id: string | null;
  readonly reason: string | null;
  readonly received_ts: number;
};

export async function insertReport(
  db: SqlExecutor,
  reporter: string,
  target: ReportTarget,
  reason: string | undefined,
  receivedTs: number,
): Promise<void> {
  await db.execute(
    `INSERT INTO content_reports
       (reporter, room_id, event_id, target_user_id, reason, received_ts)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      reporter,
      'roomId' in target ? target.roomId : null,
      'eventId' in target ? target.eventId : null,
      'userId' in target ? target.userId : null,
      reason ?? null,
      receivedTs,
    ],
  );
}

/** Every report, oldest first (for operators and tests). */
export function selectReports(db: SqlExecutor): Promise<ReportRow[]> {
  return db.query<ReportRow>(
    `SELECT reporter, room_id, event_id, target_user_id, reason, received_ts
       FROM content_reports ORDER BY report_id`,
  );
}

/** Whether this server knows `userId`: an account here, or a membership in a room here. */
export async function userKnown(db: SqlExecutor, userId: string): Promise<boolean> {
  const row = await db.queryOne(
    `SELECT 1 AS one FROM users WHERE user_id = $1
     UNION ALL
     SELECT 1 AS one FROM room_memberships WHERE user_id = $1
     LIMIT 1`,
    [userId],
  );
  return row !== undefined;
}
