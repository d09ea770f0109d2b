import type { Migration } from '../migrate.ts';

/**
 * Federation core (services/federation):
 * - `server_keys`: other servers' verify keys as fetched (directly or from a notary), with the
 *   response's `valid_until_ts` (current keys) or `expired_ts` (old keys), and the whole signed
 *   response so a notary can serve it again (spec server-server-api "Retrieving server keys").
 * - `federation_outbound`: the persisted per-destination queue; a row is deleted only after the
 *   destination answered 200 to the transaction that carried it.
 * - `federation_inbound_txns`: `/send` transactions already processed, with the response, so a
 *   replay gets the same answer and changes nothing (spec "Transactions").
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE server_keys (
      server_name TEXT NOT NULL,
      key_id TEXT NOT NULL,
      verify_key TEXT NOT NULL,
      valid_until_ts BIGINT NOT NULL,
      expired_ts BIGINT,
      fetched_ts BIGINT NOT NULL,
      response TEXT NOT NULL,
      PRIMARY KEY (server_name, key_id)
    )`,
    `CREATE TABLE federation_outbound (
      id {{serial}},
      destination TEXT NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL
    )`,
    'CREATE INDEX federation_outbound_by_destination ON federation_outbound (destination, id)',
    `CREATE TABLE federation_inbound_txns (
      origin TEXT NOT NULL,
      txn_id TEXT NOT NULL,
      response TEXT NOT NULL,
      received_ts BIGINT NOT NULL,
      PRIMARY KEY (origin, txn_id)
    )`,
  ],
};
