/** SQL of cross-signing: `e2e_cross_signing_keys`, `e2e_cross_signing_signatures` (migration 0051). */
import { parseAnyJson } from '@weft/canonical-json';
import type { SqlExecutor } from '../../storage/index.ts';

/** The three cross-signing key types (spec "Cross-signing"). */
export type CrossSigningKeyType = 'master' | 'self_signing' | 'user_signing';

export async function crossSigningKeysOf(
  db: SqlExecutor,
  userId: string,
): Promise<Map<CrossSigningKeyType, Record<string, unknown>>> {
  const rows = await db.query<{ key_type: string; key_json: string }>(
    'SELECT key_type, key_json FROM e2e_cross_signing_keys WHERE user_id = $1',
    [userId],
  );
  return new Map(
    rows.map((row) => [
      row.key_type as CrossSigningKeyType,
      parseAnyJson(row.key_json) as Record<string, unknown>,
    ]),
  );
}

export async function putCrossSigningKey(
  tx: SqlExecutor,
  userId: string,
  keyType: CrossSigningKeyType,
  keyJson: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO e2e_cross_signing_keys (user_id, key_type, key_json) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, key_type) DO UPDATE SET key_json = excluded.key_json`,
    [userId, keyType, keyJson],
  );
}

export interface SignatureRow {
  readonly signer_user_id: string;
  readonly signer_key_id: string;
  readonly target_user_id: string;
  readonly target_key_id: string;
  readonly signature: string;
}

export async function putSignature(tx: SqlExecutor, row: SignatureRow): Promise<void> {
  await tx.execute(
    `INSERT INTO e2e_cross_signing_signatures
       (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (target_user_id, target_key_id, signer_user_id, signer_key_id)
     DO UPDATE SET signature = excluded.signature`,
    [row.signer_user_id, row.signer_key_id, row.target_user_id, row.target_key_id, row.signature],
  );
}

/**
 * Deletes the signatures on a device's keys and those its device key made (on the master key):
 * the device was removed or uploaded other identity keys, which the signatures no longer cover
 * (a device re-created under the same ID must not show them).
 */
export async function deleteDeviceSignatures(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<void> {
  await tx.execute(
    'DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1 AND target_key_id = $2',
    [userId, deviceId],
  );
  await tx.execute(
    'DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = $1 AND signer_key_id = $2',
    [userId, `ed25519:${deviceId}`],
  );
}

/** Every uploaded signature on keys of `userId`. */
export async function signaturesOn(db: SqlExecutor, userId: string): Promise<SignatureRow[]> {
  return db.query<SignatureRow & Record<string, unknown>>(
    `SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature
       FROM e2e_cross_signing_signatures WHERE target_user_id = $1`,
    [userId],
  );
}
