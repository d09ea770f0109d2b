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

/** The user and device a token belongs to, or `undefined` for an unknown token. */
export async function lookupAccessToken(
  db: SqlExecutor,
  token: string,
): Promise<AuthenticatedUser | undefined> {
  const row = await db.queryOne<{ user_id: string; device_id: string }>(
    `SELECT t.user_id, t.device_id FROM access_tokens t
       JOIN users u ON u.user_id = t.user_id
      WHERE t.token_hash = $1 AND u.deactivated = 0`,
    [hashAccessToken(token)],
  );
  return row === undefined ? undefined : { userId: row.user_id, deviceId: row.device_id };
}
