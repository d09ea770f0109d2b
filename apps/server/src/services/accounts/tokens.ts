/**
 * Access tokens: 32 random bytes (base64url), stored only as their SHA-256 so a leaked database
 * does not hand out sessions. A fast hash is enough because tokens are high-entropy (unlike
 * passwords, which go through scrypt); lookups are by hash, so no token is ever compared.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { SqlExecutor } from '../../storage/index.ts';
import type { AuthenticatedUser } from '../core/context.ts';

export function hashAccessToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateAccessToken(): string {
  return `wft_${randomBytes(32).toString('base64url')}`;
}

/** Stores a new token for the device and returns it (the only time it exists in clear). */
export async function issueAccessToken(
  tx: SqlExecutor,
  userId: string,
  deviceId: string,
  now: number,
): Promise<string> {
  const token = generateAccessToken();
  await tx.execute(
    'INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)',
    [hashAccessToken(token), userId, deviceId, now],
  );
  return token;
}

/** How stale a device's `last_seen_ts` may get before a request refreshes it. */
export const LAST_SEEN_INTERVAL_MS = 5 * 60 * 1000;

/**
 * The user and device a token belongs to, or `undefined` for an unknown token. Refreshes the
 * device's `last_seen_ts` (spec "Device management") at most every {@link LAST_SEEN_INTERVAL_MS},
 * so a request costs a write only once in a while.
 */
export async function lookupAccessToken(
  db: SqlExecutor,
  token: string,
  now: number = Date.now(),
): Promise<AuthenticatedUser | undefined> {
  const row = await db.queryOne<{
    user_id: string;
    device_id: string;
    last_seen_ts: number | null;
  }>(
    `SELECT t.user_id, t.device_id, d.last_seen_ts FROM access_tokens t
       JOIN users u ON u.user_id = t.user_id
       LEFT JOIN devices d ON d.user_id = t.user_id AND d.device_id = t.device_id
      WHERE t.token_hash = $1 AND u.deactivated = 0`,
    [hashAccessToken(token)],
  );
  if (row === undefined) return undefined;
  if (row.last_seen_ts === null || now - Number(row.last_seen_ts) >= LAST_SEEN_INTERVAL_MS) {
    await db.execute('UPDATE devices SET last_seen_ts = $1 WHERE user_id = $2 AND device_id = $3', [
      now,
      row.user_id,
      row.device_id,
    ]);
  }
  return { userId: row.user_id, deviceId: row.device_id };
}
