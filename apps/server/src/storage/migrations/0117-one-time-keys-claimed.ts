import type { Migration } from '../migrate.ts';

/**
 * Claimed one-time keys are kept, marked `claimed = 1`, instead of deleted (services/e2e-keys):
 * a retried `/keys/upload` of a key ID that a claim already handed out is then recognised and
 * skipped, so no one-time key is handed out twice (spec `/keys/claim`). Counts and claims look
 * only at `claimed = 0`; a device keeps its most recent claimed keys (store.ts bounds them), and
 * all of them go with the device. The claim index leads with `claimed` so a claim does not scan
 * the claimed rows.
 */
export const migration: Migration = {
  statements: [
    'ALTER TABLE e2e_one_time_keys ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0',
    'DROP INDEX e2e_one_time_keys_claim',
    'CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, claimed, id)',
  ],
};
