import type { Migration } from '../migrate.ts';

/**
 * How far each pusher's notifications have gone (services/pushers/delivery.ts, as Synapse's
 * `pushers.last_stream_ordering`): `last_stream_position` is the stream position of the last
 * event whose notification to this pusher was finished — delivered, its pushkey rejected, or
 * given up after the retries. At start the notifications of the events after it that notify
 * the pusher's user (the push actions, bounded) are queued again, so a restart or a crash does
 * not lose the ones still waiting or being retried. A new pusher starts at the stream position
 * of its creation; the existing ones start at the current position here, so nothing older is
 * sent again.
 */
export const migration: Migration = {
  statements: [
    'ALTER TABLE pushers ADD COLUMN last_stream_position BIGINT NOT NULL DEFAULT 0',
    `UPDATE pushers SET last_stream_position =
       COALESCE((SELECT position FROM stream_position WHERE id = 1), 0)`,
  ],
};
