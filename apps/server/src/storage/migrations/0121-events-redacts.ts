import { parseAnyJson } from '@weft/canonical-json';

import type { Migration } from '../migrate.ts';

/**
 * `events.redacts`: the event an `m.room.redaction` names (top-level `redacts` before room
 * version 11, `content.redacts` from 11), indexed, so that a redaction received over federation
 * before the event it redacts is applied when that event arrives (spec rooms/v11 "Handling
 * redactions": not before both events have been seen; services/rooms/redaction-applies.ts).
 * Existing redactions are filled from their stored PDUs.
 */
export const migration: Migration = {
  statements: [
    'ALTER TABLE events ADD COLUMN redacts TEXT',
    'CREATE INDEX events_by_redacts ON events (redacts) WHERE redacts IS NOT NULL',
  ],
  fill: async (tx) => {
    const rows = await tx.query<{ event_id: string; pdu: string }>(
      `SELECT event_id, pdu FROM events WHERE type = 'm.room.redaction'`,
    );
    for (const row of rows) {
      const pdu = parseAnyJson(row.pdu) as Record<string, unknown>;
      const content = (pdu['content'] ?? {}) as Record<string, unknown>;
      const redacts = typeof pdu['redacts'] === 'string' ? pdu['redacts'] : content['redacts'];
      if (typeof redacts !== 'string') continue;
      await tx.execute('UPDATE events SET redacts = $1 WHERE event_id = $2', [
        redacts,
        row.event_id,
      ]);
    }
  },
};
