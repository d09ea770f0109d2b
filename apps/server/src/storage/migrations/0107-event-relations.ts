import { parseAnyJson } from '@weft/canonical-json';

import { relationOf } from '../../services/relations/relation.ts';
import type { Migration } from '../migrate.ts';

/**
 * Event relationships (services/relations; client-server-api "Forming relationships between
 * events", https://spec.matrix.org/v1.19/client-server-api/#forming-relationships-between-events):
 * one row per timeline event whose `content["m.relates_to"]` has a string `rel_type` and
 * `event_id` — local sends and events received over federation alike, written by the timeline
 * listener in the event's own transaction; outliers, rejected and soft-failed events (no stream
 * position) have none. A redaction deletes its target's row (the redaction algorithm strips
 * `m.relates_to` with the rest of the content). `GET /relations` pages a parent's children by
 * `stream_position`; `GET /threads` and the `m.thread` aggregation group a room's `m.thread`
 * rows by parent; `origin_server_ts` orders edits (spec "Event replacements").
 *
 * Filled here from the events already stored: in TypeScript, not SQL, so the PDU text is read
 * the way the server reads it (`parseAnyJson`) on SQLite and PostgreSQL alike (PostgreSQL's
 * JSON operators refuse some strings that are valid JSON text, e.g. `\u0000`). The `LIKE` only
 * narrows the rows to read; `relationOf` decides.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE event_relations (
      event_id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL,
      relates_to_id TEXT NOT NULL,
      rel_type TEXT NOT NULL,
      type TEXT NOT NULL,
      sender TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      origin_server_ts BIGINT NOT NULL
    )`,
    `CREATE INDEX event_relations_by_parent
      ON event_relations (relates_to_id, rel_type, stream_position)`,
    `CREATE INDEX event_relations_by_room
      ON event_relations (room_id, rel_type, relates_to_id, stream_position)`,
  ],
  fill: async (tx) => {
    let after = -1;
    for (;;) {
      const rows = await tx.query<{
        event_id: string;
        room_id: string;
        stream_position: number;
        type: string;
        sender: string;
        origin_server_ts: number;
        pdu: string;
      }>(
        `SELECT event_id, room_id, stream_position, type, sender, origin_server_ts, pdu FROM events
          WHERE stream_position > $1 AND rejected = 0 AND outlier = 0 AND redacted_by IS NULL
            AND pdu LIKE '%m.relates_to%'
          ORDER BY stream_position LIMIT 1000`,
        [after],
      );
      for (const row of rows) {
        const relation = relationOf(parseAnyJson(row.pdu) as Record<string, unknown>);
        if (relation === undefined) continue;
        await tx.execute(
          `INSERT INTO event_relations (event_id, room_id, relates_to_id, rel_type, type, sender,
             stream_position, origin_server_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (event_id) DO NOTHING`,
          [
            row.event_id,
            row.room_id,
            relation.eventId,
            relation.relType,
            row.type,
            row.sender,
            Number(row.stream_position),
            Number(row.origin_server_ts),
          ],
        );
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < 1000) break;
      after = Number(last.stream_position);
    }
  },
};
