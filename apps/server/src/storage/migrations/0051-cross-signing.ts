import type { Migration } from '../migrate.ts';

/**
 * Cross-signing (services/e2e-keys/cross-signing.ts): each user's master, self-signing and
 * user-signing keys as uploaded (canonical JSON), and the signatures uploaded later for device
 * keys and master keys (`target_key_id` is a device ID or a master key's public key).
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE e2e_cross_signing_keys (
      user_id TEXT NOT NULL,
      key_type TEXT NOT NULL,
      key_json TEXT NOT NULL,
      PRIMARY KEY (user_id, key_type)
    )`,
    `CREATE TABLE e2e_cross_signing_signatures (
      signer_user_id TEXT NOT NULL,
      signer_key_id TEXT NOT NULL,
      target_user_id TEXT NOT NULL,
      target_key_id TEXT NOT NULL,
      signature TEXT NOT NULL,
      PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
    )`,
  ],
};
