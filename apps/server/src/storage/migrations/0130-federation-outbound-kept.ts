import type { Migration } from '../migrate.ts';

/**
 * `federation_outbound.kept`: the to-device, device-list and signing-key EDUs a refused
 * transaction kept (`FederationSender`'s refusal rule, spec server-server-api "Transactions"): 1
 * to go next with the other kept rows and nothing else, 2 to go one per transaction; 0 for every
 * other row. The sender held this in memory only, so after a restart a kept EDU rode in an
 * ordinary transaction again and, if the destination refuses it for good, cost that transaction's
 * PDUs. Rows queued before this migration were kept by no refusal this server remembers: 0.
 *
 * The partial index serves the one read of the kept rows per destination after a start without
 * walking a destination's whole backlog; kept rows are few (at most one transaction's EDUs).
 */
export const migration: Migration = {
  statements: [
    'ALTER TABLE federation_outbound ADD COLUMN kept INTEGER NOT NULL DEFAULT 0',
    'CREATE INDEX federation_outbound_kept ON federation_outbound (destination, id) WHERE kept <> 0',
  ],
};
