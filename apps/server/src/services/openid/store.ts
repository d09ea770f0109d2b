/** SQL of the OpenID service: `openid_tokens` (migration 0111), tokens by their SHA-256. */
import type { SqlExecutor } from '../../storage/index.ts';

export async function insertOpenIdToken(
  db: SqlExecutor,
  tokenHash: string,
  userId: string,
  expiresTs: number,
): Promise<void> {
  await db.execute(
    'INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES ($1, $2, $3)',
    [tokenHash, userId, expiresTs],
  );
}

/** Removes every token expired at `now`. */
export async function deleteExpiredOpenIdTokens(db: SqlExecutor, now: number): Promise<void> {
  await db.execute('DELETE FROM openid_tokens WHERE expires_ts <= $1', [now]);
}

/** The user of the unexpired token with hash `tokenHash` (its account not deactivated). */
export async function selectOpenIdUser(
  db: SqlExecutor,
  tokenHash: string,
  now: number,
): Promise<string | undefined> {
  const row = await db.queryOne<{ user_id: string }>(
    `SELECT o.user_id FROM openid_tokens o JOIN users u ON u.user_id = o.user_id
      WHERE o.token_hash = $1 AND o.expires_ts > $2 AND u.deactivated = 0`,
    [tokenHash, now],
  );
  return row?.user_id;
}
