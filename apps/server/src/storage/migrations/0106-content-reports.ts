import type { Migration } from '../migrate.ts';

/**
 * Content reports (services/reports, client-server-api "Reporting content",
 * https://spec.matrix.org/v1.19/client-server-api/#reporting-content): one row per report of an
 * event (`room_id` and `event_id`), a room (`room_id`) or a user (`target_user_id`), with who
 * reported it, their reason (NULL when an event report gave none) and when it arrived, for the
 * server's operators to read.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE content_reports (
      report_id {{serial}},
      reporter TEXT NOT NULL,
      room_id TEXT,
      event_id TEXT,
      target_user_id TEXT,
      reason TEXT,
      received_ts BIGINT NOT NULL
    )`,
    'CREATE INDEX content_reports_by_ts ON content_reports (received_ts)',
  ],
};
