/**
 * Access tokens: 32 random bytes (base64url), stored only as their SHA-256 so a leaked database
 * does not hand out sessions. A fast hash is enough because tokens are high-entropy (unlike
 * passwords, which go through scrypt); lookups are by hash, so no token is ever compared.
 */
import { hash, randomBytes } from 'node:crypto';

import type { SqlExecutor } from '../../storage/index.ts';

export function hashAccessToken(token: string): string {
  return hash('sha256', token, 'hex');
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

/** A token's row: its user and device, and the device's `last_seen_ts`. */
export interface AccessTokenRow {
  readonly userId: string;
  readonly deviceId: string;
  readonly lastSeenTs: number | null;
}

/** The live token with hash `tokenHash` (its user not deactivated), or `undefined`. */
export async function findAccessToken(
  db: SqlExecutor,
  tokenHash: string,
): Promise<AccessTokenRow | undefined> {
  const row = await db.queryOne<{
    user_id: string;
    device_id: string;
    last_seen_ts: number | null;
  }>(
    `SELECT t.user_id, t.device_id, d.last_seen_ts FROM access_tokens t
       JOIN users u ON u.user_id = t.user_id
       LEFT JOIN devices d ON d.user_id = t.user_id AND d.device_id = t.device_id
      WHERE t.token_hash = $1 AND u.deactivated = 0`,
    [tokenHash],
  );
  if (row === undefined) return undefined;
  return {
    userId: row.user_id,
    deviceId: row.device_id,
    lastSeenTs: row.last_seen_ts === null ? null : Number(row.last_seen_ts),
  };
}

/** Whether a request at `now` should refresh a device last seen at `lastSeenTs`. */
export function lastSeenIsStale(lastSeenTs: number | null, now: number): boolean {
  return lastSeenTs === null || now - lastSeenTs >= LAST_SEEN_INTERVAL_MS;
}

/** Records that a device was seen at `now` (spec "Device management": `last_seen_ts`). */
export async function touchDevice(
  db: SqlExecutor,
  userId: string,
  deviceId: string,
  now: number,
): Promise<void> {
  await db.execute('UPDATE devices SET last_seen_ts = $1 WHERE user_id = $2 AND device_id = $3', [
    now,
    userId,
    deviceId,
  ]);
}
