/**
 * SQL of the end-to-end keys service: `e2e_device_keys`, `e2e_one_time_keys` (claimed ones kept,
 * marked, migration 0117), `e2e_fallback_keys`.
 */
import type { SqlExecutor } from '../../storage/index.ts';
import { deleteDeviceSignatures } from './cross-signing-store.ts';

/** A device's stored identity keys (canonical JSON), if any. */
export async function deviceKeysJson(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<string | undefined> {
  const row = await db.queryOne<{ key_json: string }>(
    'SELECT key_json FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2',
    [userId, deviceId],
  );
  return row?.key_json;
}

/** Stores (or replaces) a device's identity keys. */
export async function putDeviceKeys(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  json: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO e2e_device_keys (user_id, device_id, key_json) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json`,
    [userId, deviceId, json],
  );
}

/** An existing device's display name and identity keys (either may be null). */
export async function deviceEntry(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<{ key_json: string | null; display_name: string | null } | undefined> {
  return db.queryOne(
    `SELECT k.key_json, d.display_name FROM devices d
       LEFT JOIN e2e_device_keys k ON k.user_id = d.user_id AND k.device_id = d.device_id
      WHERE d.user_id = $1 AND d.device_id = $2`,
    [userId, deviceId],
  );
}

/** Device keys of a user's existing devices, with each device's display name. */
export async function deviceKeysOfUser(
  db: SqlExecutor,
  userId: string,
): Promise<{ device_id: string; key_json: string; display_name: string | null }[]> {
  return db.query(
    `SELECT k.device_id, k.key_json, d.display_name FROM e2e_device_keys k
       JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id
      WHERE k.user_id = $1 ORDER BY k.device_id`,
    [userId],
  );
}

/**
 * A one-time key by its ID, if stored: unclaimed, or claimed and still remembered (see
 * {@link takeOneTimeKey}), so a re-upload of a claimed key is recognised.
 */
export async function storedOneTimeKey(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
  keyId: string,
): Promise<{ key_json: string; claimed: boolean } | undefined> {
  const row = await db.queryOne<{ key_json: string; claimed: number }>(
    `SELECT key_json, claimed FROM e2e_one_time_keys
      WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4`,
    [userId, deviceId, algorithm, keyId],
  );
  return row === undefined
    ? undefined
    : { key_json: row.key_json, claimed: Number(row.claimed) !== 0 };
}

/** Forgets a device's claimed one-time key of one ID (a new key is uploaded under its ID). */
export async function deleteClaimedOneTimeKey(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
  keyId: string,
): Promise<void> {
  await tx.execute(
    `DELETE FROM e2e_one_time_keys
      WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4 AND claimed = 1`,
    [userId, deviceId, algorithm, keyId],
  );
}

/** Forgets every claimed one-time key of a device (its identity keys changed: a new account). */
export async function deleteClaimedOneTimeKeys(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<void> {
  await tx.execute(
    'DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2 AND claimed = 1',
    [userId, deviceId],
  );
}

/** Stores one one-time key. */
export async function insertOneTimeKey(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
  keyId: string,
  json: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json)
     VALUES ($1, $2, $3, $4, $5)`,
    [userId, deviceId, algorithm, keyId, json],
  );
}

/** Unclaimed one-time keys per algorithm. */
export async function oneTimeKeyCounts(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<Record<string, number>> {
  const rows = await db.query<{ algorithm: string; n: number }>(
    `SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys
      WHERE user_id = $1 AND device_id = $2 AND claimed = 0 GROUP BY algorithm`,
    [userId, deviceId],
  );
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.algorithm] = Number(row.n);
  return counts;
}

/**
 * How many claimed one-time keys of one algorithm a device keeps to recognise re-uploads: far more
 * than a client publishes at once (vodozemac: 50), so a retried upload is always caught.
 */
export const CLAIMED_KEYS_KEPT = 1000;

/**
 * Marks claimed and returns the oldest unclaimed one-time key of `algorithm` (spec: "given out
 * in the order that they were uploaded"). One statement, so two claims can never return the same
 * key; the claimed row stays so that a re-upload of its key ID is skipped (spec: "each one-time
 * key is returned at most once"). Claimed keys beyond the newest {@link CLAIMED_KEYS_KEPT} of the
 * device and algorithm are forgotten.
 */
export async function takeOneTimeKey(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
): Promise<{ key_id: string; key_json: string } | undefined> {
  const taken = await tx.queryOne<{ key_id: string; key_json: string }>(
    `UPDATE e2e_one_time_keys SET claimed = 1 WHERE id = (
       SELECT id FROM e2e_one_time_keys
        WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND claimed = 0
        ORDER BY id LIMIT 1)
     RETURNING key_id, key_json`,
    [userId, deviceId, algorithm],
  );
  if (taken !== undefined) {
    // Each claim adds one claimed row, so removing a few beyond the bound keeps it.
    await tx.execute(
      `DELETE FROM e2e_one_time_keys WHERE id IN (
         SELECT id FROM e2e_one_time_keys
          WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND claimed = 1
          ORDER BY id DESC LIMIT 10 OFFSET ${CLAIMED_KEYS_KEPT})`,
      [userId, deviceId, algorithm],
    );
  }
  return taken;
}

/** A device's fallback key of `algorithm`, with its used flag. */
export async function fallbackKey(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
): Promise<{ key_id: string; key_json: string; used: number } | undefined> {
  return db.queryOne(
    `SELECT key_id, key_json, used FROM e2e_fallback_keys
      WHERE user_id = $1 AND device_id = $2 AND algorithm = $3`,
    [userId, deviceId, algorithm],
  );
}

/** Stores (or replaces, unused) a device's fallback key of `algorithm`. */
export async function putFallbackKey(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
  keyId: string,
  json: string,
): Promise<void> {
  await tx.execute(
    `INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used)
     VALUES ($1, $2, $3, $4, $5, 0)
     ON CONFLICT (user_id, device_id, algorithm)
     DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0`,
    [userId, deviceId, algorithm, keyId, json],
  );
}

/** Marks a fallback key as handed out by a claim. */
export async function markFallbackKeyUsed(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  algorithm: string,
): Promise<void> {
  await tx.execute(
    'UPDATE e2e_fallback_keys SET used = 1 WHERE user_id = $1 AND device_id = $2 AND algorithm = $3',
    [userId, deviceId, algorithm],
  );
}

/** Algorithms of a device's fallback keys that no claim has used. */
export async function unusedFallbackAlgorithms(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<string[]> {
  const rows = await db.query<{ algorithm: string }>(
    `SELECT algorithm FROM e2e_fallback_keys
      WHERE user_id = $1 AND device_id = $2 AND used = 0 ORDER BY algorithm`,
    [userId, deviceId],
  );
  return rows.map((row) => row.algorithm);
}

/**
 * Deletes every key of a device, and the cross-signing signatures on it and by it (the device was
 * removed). Returns whether it had identity keys.
 */
export async function deleteDeviceKeys(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
): Promise<boolean> {
  const had = await tx.execute(
    'DELETE FROM e2e_device_keys WHERE user_id = $1 AND device_id = $2',
    [userId, deviceId],
  );
  await tx.execute('DELETE FROM e2e_one_time_keys WHERE user_id = $1 AND device_id = $2', [
    userId,
    deviceId,
  ]);
  await tx.execute('DELETE FROM e2e_fallback_keys WHERE user_id = $1 AND device_id = $2', [
    userId,
    deviceId,
  ]);
  await deleteDeviceSignatures(tx, userId, deviceId);
  return had > 0;
}
