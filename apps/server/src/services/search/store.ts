/**
 * The full-text index of room events (migration 0109; spec client-server-api "Server Side
 * Search", https://spec.matrix.org/v1.19/client-server-api/#server-side-search): one row per
 * timeline event with a string `content.body`, `content.name` or `content.topic`, keyed by the
 * event's stream position (unique, and the `events` row it joins).
 *
 * - SQLite: `event_search`, a contentless FTS5 table (`content=''`, so the text is not stored a
 *   second time; `contentless_delete=1` lets a redaction delete its row) with the columns `body`,
 *   `name`, `topic`; rowid = stream position; rank = bm25.
 * - PostgreSQL: `event_search (stream_position, vector)`, one `tsvector` (`to_tsvector('simple',
 *   …)`) with the body at weight A, the name at B and the topic at C, under a GIN index; rank =
 *   `ts_rank`; `keys` keep the weights they name (`ts_filter`).
 *
 * The search term never reaches either query language as written: it is cut into words of
 * letters, marks and digits only, and each word becomes a quoted term, all of them required: a
 * prefix term (`"word"*` in FTS5, `'word':*` in a tsquery) for a word of at least
 * `MIN_PREFIX_WORD` characters, an exact one for a shorter word (a one- or two-letter prefix
 * would walk a large part of the index's terms). No character of the term can be an operator, a
 * column filter or a quote.
 */

import { isObject } from '../../json-object.ts';
import type { Dialect, SqlExecutor } from '../../storage/index.ts';

/** The searchable keys of the spec (`keys`), in column order. */
export const SEARCH_KEYS = ['content.body', 'content.name', 'content.topic'] as const;
export type SearchKey = (typeof SEARCH_KEYS)[number];

/** The indexed text of an event: its string body, name and topic (NUL characters dropped). */
export interface SearchableText {
  readonly body: string | null;
  readonly name: string | null;
  readonly topic: string | null;
}

/** Longest text indexed per key (an event is at most 64 KiB anyway). */
const MAX_TEXT = 65_536;

function textOf(content: Record<string, unknown>, key: string): string | null {
  const value = content[key];
  if (typeof value !== 'string' || value === '') return null;
  // PostgreSQL text cannot hold U+0000; neither index needs it.
  return value.slice(0, MAX_TEXT).replaceAll('\u0000', ' ');
}

/** What of `pdu` is indexed, or `undefined` when it has no string body, name or topic. */
export function searchableText(pdu: Readonly<Record<string, unknown>>): SearchableText | undefined {
  const content = pdu['content'];
  if (!isObject(content)) return undefined;
  const record = content as Record<string, unknown>;
  const text = {
    body: textOf(record, 'body'),
    name: textOf(record, 'name'),
    topic: textOf(record, 'topic'),
  };
  return text.body === null && text.name === null && text.topic === null ? undefined : text;
}

/** Writes the index row of the event at `position` (one INSERT). */
export async function insertSearchRow(
  tx: SqlExecutor,
  dialect: Dialect,
  position: number,
  text: SearchableText,
): Promise<void> {
  if (dialect === 'sqlite') {
    await tx.execute(
      'INSERT OR REPLACE INTO event_search (rowid, body, name, topic) VALUES ($1, $2, $3, $4)',
      [position, text.body, text.name, text.topic],
    );
    return;
  }
  await tx.execute(
    `INSERT INTO event_search (stream_position, vector) VALUES ($1,
       setweight(to_tsvector('simple', $2), 'A') || setweight(to_tsvector('simple', $3), 'B')
         || setweight(to_tsvector('simple', $4), 'C'))
     ON CONFLICT (stream_position) DO NOTHING`,
    [position, text.body ?? '', text.name ?? '', text.topic ?? ''],
  );
}

/** Drops the index row of `eventId` (a redaction's target), if it has one. */
export async function deleteSearchRow(
  tx: SqlExecutor,
  dialect: Dialect,
  eventId: string,
  roomId: string,
): Promise<void> {
  const key = dialect === 'sqlite' ? 'rowid' : 'stream_position';
  await tx.execute(
    `DELETE FROM event_search WHERE ${key} IN (
       SELECT stream_position FROM events
        WHERE event_id = $1 AND room_id = $2 AND stream_position IS NOT NULL)`,
    [eventId, roomId],
  );
}

/** Longest search word: a longer one is cut to this prefix (it is matched as a prefix anyway). */
const MAX_WORD = 100;

/**
 * The words of a search term: runs of letters, marks and digits, lowercased, without repeats,
 * at most 32 of them.
 */
export function searchWords(term: string): string[] {
  const words = (term.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? []).map((word) =>
    [...word].slice(0, MAX_WORD).join(''),
  );
  return [...new Set(words)].slice(0, 32);
}

/** Shortest search word matched as a prefix; a shorter one matches only itself. */
export const MIN_PREFIX_WORD = 3;

/** Whether `word` is matched as a prefix (else only as a whole word). */
export function isPrefixWord(word: string): boolean {
  return [...word].length >= MIN_PREFIX_WORD;
}

/** The match expression for `words` restricted to `keys` (never empty `words`). */
function matchQuery(dialect: Dialect, words: readonly string[]): string {
  if (dialect === 'sqlite') {
    // An FTS5 string: a double quote inside is doubled (the words have none; kept for safety).
    return words
      .map((word) => `"${word.replaceAll('"', '""')}"${isPrefixWord(word) ? '*' : ''}`)
      .join(' AND ');
  }
  // A tsquery lexeme in single quotes (a quote or backslash inside is escaped; none occur).
  return words
    .map((word) => `'${word.replace(/['\\]/g, (c) => `\\${c}`)}'${isPrefixWord(word) ? ':*' : ''}`)
    .join(' & ');
}

/** Which raw matches a search reads (see SearchService.search). */
export interface MatchQuery {
  readonly userId: string;
  readonly words: readonly string[];
  readonly keys: readonly SearchKey[];
  readonly rooms?: readonly string[] | undefined;
  readonly notRooms?: readonly string[] | undefined;
  readonly senders?: readonly string[] | undefined;
  readonly notSenders?: readonly string[] | undefined;
  readonly order: 'rank' | 'recent';
}

/** One raw match: the event, where, by whom, and its rank (higher is closer). */
export interface MatchRow {
  readonly eventId: string;
  readonly roomId: string;
  readonly sender: string;
  readonly position: number;
  readonly rank: number;
}

const FTS_COLUMNS: Readonly<Record<SearchKey, string>> = {
  'content.body': 'body',
  'content.name': 'name',
  'content.topic': 'topic',
};
const WEIGHTS: Readonly<Record<SearchKey, string>> = {
  'content.body': 'a',
  'content.name': 'b',
  'content.topic': 'c',
};

/**
 * The FROM and WHERE of a search: the index joined to the events (not redacted) of the rooms the
 * user is or was in (a room they left or were banned from up to that moment; forgotten rooms
 * not at all), narrowed by the filter's rooms and senders. `$1` is the match expression, `$2`
 * the user.
 */
function matchSql(
  dialect: Dialect,
  query: MatchQuery,
): { from: string; rank: string; position: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const all = query.keys.length === SEARCH_KEYS.length;
  let match = matchQuery(dialect, query.words);
  if (dialect === 'sqlite' && !all) {
    match = `{${query.keys.map((key) => FTS_COLUMNS[key]).join(' ')}} : (${match})`;
  }
  params.push(match, query.userId);
  const list = (column: string, values: readonly string[] | undefined, not: boolean): string => {
    if (values === undefined) return '';
    if (values.length === 0) return not ? '' : ' AND 1 = 0';
    const start = params.length + 1;
    params.push(...values);
    const marks = values.map((_, i) => `$${start + i}`).join(', ');
    return ` AND ${column} ${not ? 'NOT IN' : 'IN'} (${marks})`;
  };
  const filters =
    list('e.room_id', query.rooms, false) +
    list('e.room_id', query.notRooms, true) +
    list('e.sender', query.senders, false) +
    list('e.sender', query.notSenders, true);
  const joins = `JOIN room_memberships m ON m.room_id = e.room_id AND m.user_id = $2
      AND m.membership IN ('join', 'leave', 'ban') AND m.forgotten = 0
      AND (m.membership = 'join' OR e.stream_position <= m.stream_position)`;
  if (dialect === 'sqlite') {
    return {
      from: `event_search JOIN events e ON e.stream_position = event_search.rowid ${joins}
        WHERE event_search MATCH $1 AND e.redacted_by IS NULL${filters}`,
      rank: '-bm25(event_search)',
      // The rowid: FTS5 walks its matches in rowid order itself, so a `recent` page stops early.
      position: 'event_search.rowid',
      params,
    };
  }
  const keep = all
    ? ''
    : ` AND ts_filter(s.vector, '{${query.keys.map((key) => WEIGHTS[key]).join(',')}}') @@ to_tsquery('simple', $1)`;
  return {
    from: `event_search s JOIN events e ON e.stream_position = s.stream_position ${joins}
      WHERE s.vector @@ to_tsquery('simple', $1)${keep} AND e.redacted_by IS NULL${filters}`,
    rank: "ts_rank(s.vector, to_tsquery('simple', $1))",
    position: 's.stream_position',
    params,
  };
}

/**
 * Raw matches in the query's order: by rank (best first; ties newest first) from `offset`, or
 * newest first below position `before`; at most `limit`.
 */
export async function findMatches(
  db: SqlExecutor,
  dialect: Dialect,
  query: MatchQuery,
  page: { readonly offset: number; readonly before: number | undefined; readonly limit: number },
): Promise<MatchRow[]> {
  const { from, rank, position, params } = matchSql(dialect, query);
  let where = '';
  if (page.before !== undefined) {
    params.push(page.before);
    where = ` AND ${position} < $${params.length}`;
  }
  params.push(page.limit, page.offset);
  const order = query.order === 'rank' ? `score DESC, ${position} DESC` : `${position} DESC`;
  const rows = await db.query<{
    event_id: string;
    room_id: string;
    sender: string;
    stream_position: number;
    score: number;
  }>(
    `SELECT e.event_id, e.room_id, e.sender, e.stream_position, ${rank} AS score
       FROM ${from}${where}
      ORDER BY ${order} LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    eventId: row.event_id,
    roomId: row.room_id,
    sender: row.sender,
    position: Number(row.stream_position),
    rank: Number(row.score),
  }));
}
