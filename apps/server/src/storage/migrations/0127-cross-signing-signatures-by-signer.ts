import type { Migration } from '../migrate.ts';

/**
 * `e2e_cross_signing_signatures` by signer: removing a device deletes the signatures it made
 * (services/e2e-keys/cross-signing-store.ts, `WHERE signer_user_id = $1 AND signer_key_id = $2`),
 * which the primary key (target first) cannot serve — a full table scan without this index.
 */
export const migration: Migration = {
  statements: [
    `CREATE INDEX e2e_cross_signing_signatures_by_signer
       ON e2e_cross_signing_signatures (signer_user_id, signer_key_id)`,
  ],
};
