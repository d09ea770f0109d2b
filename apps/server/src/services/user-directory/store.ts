/**
 * SQL of the user directory: one query over `room_memberships` (who is joined where), `profiles`
 * (display names and avatars) and `users` (deactivated accounts), given the IDs of the rooms that
 * are public or world-readable (as one JSON array parameter: `json_each` on SQLite,
 * `jsonb_array_elements_text` on PostgreSQL). Which rooms those are is read by
 * `readOpenRoomRules`: the current join-rules and history-visibility events' stored JSON, parsed
 * in TypeScript — never decoded in SQL, where PostgreSQL's `::json` refuses a `\u0000` anywhere
 * in the event. The service keeps that set cached; each search reads the joined members of the
 * visible rooms, which is fine for this server's sizes, where Synapse keeps a separate directory
 * table up to date. Case is folded by `LOWER` on PostgreSQL (Unicode, per the database's
 * locale) and by `weft_lower` on SQLite, whose own `LOWER` and `LIKE` fold ASCII only
 * (storage/sqlite.ts registers it: JavaScript's `toLowerCase`, as the service folds the term).
 */
import { parseAnyJson } from '@weft/canonical-json';

import type { Dialect, SqlExecutor } from '../../storage/index.ts';

export type DirectoryRow = {
  readonly user_id: string;
  readonly displayname: string | null;
  readonly avatar_url: string | null;
};

/** `value` for a `LIKE … ESCAPE '\'` pattern matching it literally. */
function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The rooms whose current `m.room.join_rules` is `public` or whose `m.room.history_visibility`
 * is `world_readable`, read from the stored events (a PDU that does not parse counts as neither).
 */
export async function readOpenRooms(db: SqlExecutor): Promise<string[]> {
  const rows = await db.query<{ room_id: string; type: string; pdu: string }>(
    `SELECT s.room_id, s.type, e.pdu FROM room_current_state s
       JOIN events e ON e.event_id = s.event_id
      WHERE s.type IN ('m.room.join_rules', 'm.room.history_visibility') AND s.state_key = ''`,
  );
  const open = new Set<string>();
  for (const row of rows) {
    let content: unknown;
    try {
      content = (parseAnyJson(row.pdu) as { content?: unknown } | null)?.content;
    } catch {
      continue;
    }
    if (typeof content !== 'object' || content === null) continue;
    const fields = content as Record<string, unknown>;
    if (
      (row.type === 'm.room.join_rules' && fields['join_rule'] === 'public') ||
      (row.type === 'm.room.history_visibility' &&
        fields['history_visibility'] === 'world_readable')
    ) {
      open.add(row.room_id);
    }
  }
  return [...open].sort();
}

/**
 * Users joined to a room `searcher` is joined to, or to one of `openRooms` (public or
 * world-readable), whose user ID or profile display name contains `term` (lower case) —
 * deactivated accounts left out. Ranked: a display name or localpart that starts with the term
 * first, then users with a profile, then by user ID; at most `limit` rows.
 */
export function searchDirectory(
  db: SqlExecutor,
  dialect: Dialect,
  searcher: string,
  term: string,
  limit: number,
  openRooms: readonly string[],
): Promise<DirectoryRow[]> {
  const openList =
    dialect === 'sqlite'
      ? 'SELECT value FROM json_each($6)'
      : 'SELECT jsonb_array_elements_text($6::jsonb)';
  const lower = dialect === 'sqlite' ? 'weft_lower' : 'LOWER';
  const contains = `%${likeLiteral(term)}%`;
  const prefix = `${likeLiteral(term)}%`;
  return db.query<DirectoryRow>(
    `SELECT v.user_id, p.displayname, p.avatar_url FROM (
        SELECT DISTINCT m.user_id FROM room_memberships m
         WHERE m.membership = 'join' AND m.room_id IN (
           SELECT room_id FROM room_memberships WHERE user_id = $1 AND membership = 'join'
           UNION
           ${openList})
      ) v
      LEFT JOIN profiles p ON p.user_id = v.user_id
      LEFT JOIN users u ON u.user_id = v.user_id
     WHERE (u.deactivated IS NULL OR u.deactivated = 0)
       AND (${lower}(v.user_id) LIKE $2 ESCAPE '\\' OR ${lower}(p.displayname) LIKE $2 ESCAPE '\\')
     ORDER BY
       CASE WHEN ${lower}(p.displayname) LIKE $3 ESCAPE '\\' OR ${lower}(v.user_id) LIKE $4 ESCAPE '\\'
            THEN 0 ELSE 1 END,
       CASE WHEN p.displayname IS NULL AND p.avatar_url IS NULL THEN 1 ELSE 0 END,
       v.user_id
     LIMIT $5`,
    [searcher, contains, prefix, `@${prefix}`, limit, JSON.stringify(openRooms)],
  );
}
