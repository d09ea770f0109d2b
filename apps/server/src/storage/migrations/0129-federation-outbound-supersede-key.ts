import { parseAnyJson } from '@weft/canonical-json';

import { inListChunks, placeholders } from '../in-list.ts';
import type { Migration } from '../migrate.ts';

/**
 * `federation_outbound.supersede_key`: what a queued EDU supersedes, set by
 * `FederationSender.queueSupersedingEdus` (the EDU type: `m.presence`, spec server-server-api
 * "Presence" — a destination's queue holds only the latest state), NULL for every other row. The
 * pending rows to replace were found by the prefix of their serialized JSON, a text comparison on
 * every EDU row of the destination that a change of key order or spacing would silently break;
 * the key is explicit, and the partial index serves `destination = $1 AND supersede_key = $2`
 * without the PDUs and other EDUs.
 *
 * The presence EDUs queued before this migration get their key (read the way the sender reads a
 * row, as JSON), so the next announcement supersedes them as it did; nothing else is keyed.
 */

/** EDU rows read per query. */
const BATCH = 500;
/** The only EDU type queued through `queueSupersedingEdus` before this migration. */
const PRESENCE = 'm.presence';

export const migration: Migration = {
  statements: [
    'ALTER TABLE federation_outbound ADD COLUMN supersede_key TEXT',
    `CREATE INDEX federation_outbound_superseding
       ON federation_outbound (destination, supersede_key, id) WHERE supersede_key IS NOT NULL`,
  ],
  fill: async (tx) => {
    let after = 0;
    for (;;) {
      const rows = await tx.query<{ id: number; payload: string }>(
        `SELECT id, payload FROM federation_outbound WHERE kind = 'edu' AND id > $1
          ORDER BY id LIMIT ${BATCH}`,
        [after],
      );
      const presence = rows
        .filter((row) => eduType(row.payload) === PRESENCE)
        .map((row) => Number(row.id));
      // One statement per batch, not one per row (a batch is within one in-list chunk).
      for (const chunk of inListChunks(presence)) {
        await tx.execute(
          `UPDATE federation_outbound SET supersede_key = $1
            WHERE id IN (${placeholders(chunk.length, 2)})`,
          [PRESENCE, ...chunk],
        );
      }
      const last = rows.at(-1);
      if (last === undefined || rows.length < BATCH) break;
      after = Number(last.id);
    }
  },
};

/**
 * The `edu_type` of an EDU row, read with `parseAnyJson` as the sender reads a row. A twin of
 * `eduType` in services/federation/sender/queue.ts, kept here rather than imported: this reads the
 * rows as a server before 0129 queued them, and must go on doing so after the sender's row format
 * or its reading change (a migration's meaning is fixed once applied somewhere).
 */
function eduType(payload: string): unknown {
  try {
    return (parseAnyJson(payload) as { edu_type?: unknown } | null)?.edu_type;
  } catch {
    return undefined;
  }
}
