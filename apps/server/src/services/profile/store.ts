/** SQL of the profile service: one row per local user with a profile field set. */
import type { SqlExecutor } from '../../storage/index.ts';

export type ProfileRow = {
  readonly displayname: string | null;
  readonly avatar_url: string | null;
};

export function selectProfile(db: SqlExecutor, userId: string): Promise<ProfileRow | undefined> {
  return db.queryOne<ProfileRow>(
    'SELECT displayname, avatar_url FROM profiles WHERE user_id = $1',
    [userId],
  );
}

/** Sets one field (`displayname` or `avatar_url`; `null` clears it). */
export async function upsertProfileField(
  tx: SqlExecutor,
  userId: string,
  field: 'displayname' | 'avatar_url',
  value: string | null,
): Promise<void> {
  // The column name comes from the closed union above, never from input.
  await tx.execute(
    `INSERT INTO profiles (user_id, ${field}) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET ${field} = excluded.${field}`,
    [userId, value],
  );
}
