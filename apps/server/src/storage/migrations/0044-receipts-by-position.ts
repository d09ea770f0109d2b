import type { Migration } from '../migrate.ts';

/**
 * Every `/sync` asks which rooms got receipts in its stream range
 * (`SELECT DISTINCT room_id FROM receipts WHERE stream_position > $1 AND stream_position <= $2`);
 * the (room_id, stream_position) index cannot serve that, so it scanned the whole table — one row
 * per user, room and receipt type — on every sync.
 */
export const migration: Migration = {
  statements: ['CREATE INDEX receipts_by_position ON receipts (stream_position)'],
};
