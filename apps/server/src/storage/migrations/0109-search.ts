import { parseAnyJson } from '@weft/canonical-json';

import { insertSearchRow, searchableText } from '../../services/search/store.ts';
import type { Migration } from '../migrate.ts';

/**
 * The full-text index of server-side search (services/search; client-server-api "Server Side
 * Search", https://spec.matrix.org/v1.19/client-server-api/#server-side-search): one row per
 * timeline event with a string `content.body`, `content.name` or `content.topic`, keyed by its
 * stream position — local sends and events received over federation alike, written by the
 * timeline listener in the event's own transaction; outliers, rejected and soft-failed events (no
 * stream position) have none, and a redaction deletes its target's row.
 *
 * SQLite: a contentless FTS5 table (the text stays only in the event; `contentless_delete=1` for
 * redactions; `remove_diacritics 2`: "cafe" finds "café"). PostgreSQL: a `tsvector` of the
 * 'simple' configuration (body, name and topic at weights A, B, C) under a GIN index.
 *
 * Filled here from the events already stored, in TypeScript, so the PDU text is read the way the
 * server reads it (`parseAnyJson`); the `LIKE`s only narrow the rows to read.
 */
export const migration: Migration = {
  statements: [],
  dialectStatements: {
    sqlite: [
      `CREATE VIRTUAL TABLE event_search USING fts5(body, name, topic, content='',
        contentless_delete=1, tokenize='unicode61 remove_diacritics 2')`,
    ],
    postgres: [
      `CREATE TABLE event_search (
        stream_position BIGINT PRIMARY KEY,
        vector TSVECTOR NOT NULL
      )`,
      'CREATE INDEX event_search_vector ON event_search USING GIN (vector)',
    ],
  },
  fill: async (tx, dialect) => {
    let after = -1;
    for (;;) {
      const rows = await tx.query<{ stream_position: number; pdu: string }>(
        `SELECT stream_position, pdu FROM events
          WHERE stream_position > $1 AND rejected = 0 AND outlier = 0 AND redacted_by IS NULL
            AND (pdu LIKE '%"body"%' OR pdu LIKE '%"name"%' OR pdu LIKE '%"topic"%')
          ORDER BY stream_position LIMIT 1000`,
        [after],
      );
      for (const row of rows) {
        const text = searchableText(parseAnyJson(row.pdu) as Record<string, unknown>);
        if (text !== undefined) {
          await insertSearchRow(tx, dialect, Number(row.stream_position), text);
        }
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < 1000) break;
      after = Number(last.stream_position);
    }
  },
};
