/**
 * SQL of the user directory: one query over `room_memberships` (who is joined where),
 * `room_current_state` + `events` (which rooms are public or world-readable), `profiles` (display
 * names and avatars) and `users` (deactivated accounts). The same text serves SQLite and
 * PostgreSQL but for how a state event's content field is read from its stored JSON. The public
 * rooms are found room by room from `rooms` (`CROSS JOIN` keeps SQLite's loop in that order: a
 * primary-key seek per room, never a scan of every room's current state); each search reads the
 * joined members of every visible room, which is fine for this server's sizes, where Synapse
 * keeps a separate directory table up to date.
 */
import type { Dialect, SqlExecutor } from '../../storage/index.ts';

export type DirectoryRow = {
  readonly user_id: string;
  readonly displayname: string | null;
  readonly avatar_url: string | null;
};

/** `content.<field>` of the stored event JSON `e.pdu`, as text. */
function contentField(dialect: Dialect, field: 'join_rule' | 'history_visibility'): string {
  return dialect === 'sqlite'
    ? `json_extract(e.pdu, '$.content.${field}')`
    : `(e.pdu::json -> 'content' ->> '${field}')`;
}

/** `value` for a `LIKE … ESCAPE '\'` pattern matching it literally. */
export function likeLiteral(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Users joined to a room `searcher` is joined to, or to a room whose current `m.room.join_rules`
 * is `public` or whose `m.room.history_visibility` is `world_readable`, whose user ID or profile
 * display name contains `term` (lower case) — deactivated accounts left out. Ranked: a display
 * name or localpart that starts with the term first, then users with a profile, then by user ID;
 * at most `limit` rows.
 */
export function searchDirectory(
  db: SqlExecutor,
  dialect: Dialect,
  searcher: string,
  term: string,
  limit: number,
): Promise<DirectoryRow[]> {
  const contains = `%${likeLiteral(term)}%`;
  const prefix = `${likeLiteral(term)}%`;
  return db.query<DirectoryRow>(
    `SELECT v.user_id, p.displayname, p.avatar_url FROM (
        SELECT DISTINCT m.user_id FROM room_memberships m
         WHERE m.membership = 'join' AND m.room_id IN (
           SELECT room_id FROM room_memberships WHERE user_id = $1 AND membership = 'join'
           UNION
           SELECT s.room_id FROM rooms r
             CROSS JOIN room_current_state s
             JOIN events e ON e.event_id = s.event_id
            WHERE s.room_id = r.room_id AND s.state_key = ''
              AND s.type IN ('m.room.join_rules', 'm.room.history_visibility')
              AND ((s.type = 'm.room.join_rules'
                    AND ${contentField(dialect, 'join_rule')} = 'public')
                OR (s.type = 'm.room.history_visibility'
                    AND ${contentField(dialect, 'history_visibility')} = 'world_readable')))
      ) v
      LEFT JOIN profiles p ON p.user_id = v.user_id
      LEFT JOIN users u ON u.user_id = v.user_id
     WHERE (u.deactivated IS NULL OR u.deactivated = 0)
       AND (LOWER(v.user_id) LIKE $2 ESCAPE '\\' OR LOWER(p.displayname) LIKE $2 ESCAPE '\\')
     ORDER BY
       CASE WHEN LOWER(p.displayname) LIKE $3 ESCAPE '\\' OR LOWER(v.user_id) LIKE $4 ESCAPE '\\'
            THEN 0 ELSE 1 END,
       CASE WHEN p.displayname IS NULL AND p.avatar_url IS NULL THEN 1 ELSE 0 END,
       v.user_id
     LIMIT $5`,
    [searcher, contains, prefix, `@${prefix}`, limit],
  );
}
