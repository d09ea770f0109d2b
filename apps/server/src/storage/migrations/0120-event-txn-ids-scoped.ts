import { parseAnyJson } from '@weft/canonical-json';

import type { Migration } from '../migrate.ts';

/**
 * `event_txn_ids` keyed by the endpoint too (services/rooms/txn-scope.ts; spec client-server-api
 * "Transaction identifiers": the scope of a transaction ID is one device and one HTTP endpoint).
 * Existing rows get the scope of the request that produced their event: a redaction came from
 * `/redact` (`/send` refuses `m.room.redaction`) with the event it redacts, anything else from
 * `/send` with its room and type. Rows whose event is gone are dropped. The `/send` scopes are
 * built in SQL; only redactions' PDUs are read, in batches. (This migration's content was
 * changed after it was written, before any release: no database applied the earlier version.)
 */

/** Redaction rows read per query. */
const REDACTION_BATCH = 500;
export const migration: Migration = {
  statements: [
    `CREATE TABLE event_txn_ids_scoped (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      txn_id TEXT NOT NULL,
      scope TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (user_id, device_id, txn_id, scope)
    ) {{without_rowid}}`,
  ],
  fill: async (tx, dialect) => {
    // The scope `JSON.stringify(['send', room_id, type])` (txn-scope.ts) built in SQL: each
    // string JSON-quoted, no spaces (PostgreSQL's json_build_array would add them).
    const quote = (column: string) =>
      dialect === 'postgres' ? `to_json(${column})::text` : `json_quote(${column})`;
    await tx.execute(
      `INSERT INTO event_txn_ids_scoped (user_id, device_id, txn_id, scope, event_id)
       SELECT t.user_id, t.device_id, t.txn_id,
              '["send",' || ${quote('e.room_id')} || ',' || ${quote('e.type')} || ']', t.event_id
         FROM event_txn_ids t JOIN events e ON e.event_id = t.event_id
        WHERE e.type <> 'm.room.redaction'
       ON CONFLICT DO NOTHING`,
    );
    // Redactions: their PDU names the redacted event; read in batches, in key order.
    let after: [string, string, string] | undefined;
    for (;;) {
      const rows = await tx.query<{
        user_id: string;
        device_id: string;
        txn_id: string;
        event_id: string;
        room_id: string;
        type: string;
        pdu: string;
      }>(
        `SELECT t.user_id, t.device_id, t.txn_id, t.event_id, e.room_id, e.type, e.pdu
           FROM event_txn_ids t JOIN events e ON e.event_id = t.event_id
          WHERE e.type = 'm.room.redaction'
            ${after === undefined ? '' : 'AND (t.user_id, t.device_id, t.txn_id) > ($1, $2, $3)'}
          ORDER BY t.user_id, t.device_id, t.txn_id LIMIT ${REDACTION_BATCH}`,
        after ?? [],
      );
      for (const row of rows) {
        let scope = JSON.stringify(['send', row.room_id, row.type]);
        const pdu = parseAnyJson(row.pdu) as Record<string, unknown>;
        const content = (pdu['content'] ?? {}) as Record<string, unknown>;
        const redacts = pdu['redacts'] ?? content['redacts'];
        if (typeof redacts === 'string') scope = JSON.stringify(['redact', row.room_id, redacts]);
        await tx.execute(
          `INSERT INTO event_txn_ids_scoped (user_id, device_id, txn_id, scope, event_id)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
          [row.user_id, row.device_id, row.txn_id, scope, row.event_id],
        );
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < REDACTION_BATCH) break;
      after = [last.user_id, last.device_id, last.txn_id];
    }
    await tx.execute('DROP TABLE event_txn_ids');
    await tx.execute('ALTER TABLE event_txn_ids_scoped RENAME TO event_txn_ids');
  },
};
