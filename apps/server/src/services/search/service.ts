/**
 * Server-side search (client-server-api "Server Side Search",
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-search): the `room_events`
 * category of `POST /search` over the full-text index of store.ts, kept by a timeline listener
 * in each event's own transaction — local sends and events received over federation alike; a
 * redaction deletes its target's row; encrypted events have no plaintext body and are never
 * indexed.
 *
 * Only rooms the user is or was in are searched (up to their leaving, for rooms they left), and
 * of those only events they may see: every match passes the history-visibility check of
 * `/messages` (rooms/event-visibility.ts). Matches are read from the index in pages and checked
 * until a page of results is full, so `next_batch` counts index rows, not results: by rank it is
 * an offset, by recency a stream position; a group's `next_batch` (`groupings`) continues from
 * the same point keeping only that room's or sender's matches. By rank one statement reads all
 * the rows a request may look at (its pages are cut from them here); by recency each page is a
 * statement of its own below the last position read (FTS5 walks rowids in order and stops).
 * `count` (optional in the spec) is given only when the first page is the whole answer: the
 * number of results, all of them visible; otherwise it is left out — a count of index matches
 * would tell a user how many matches lie in history they may not see.
 */
import { stateKeyOf } from '@weft/dag';
import type { SqlExecutor } from '../../storage/index.ts';
import { type IgnoredUsersLookup, withoutIgnored } from '../account-data/ignored-users.ts';
import type { ServerContext } from '../core/context.ts';
import { currentStreamPosition } from '../core/stream.ts';
import type { RelationsService } from '../relations/service.ts';
import { filterEventsForUser, stateEventsForUser } from '../rooms/event-visibility.ts';
import { type RoomService, redactsOf } from '../rooms/service.ts';
import { type EventFilter, eventMatches, paginate, roomToken } from '../rooms/timeline.ts';
import type { StoredEvent } from '../rooms/types.ts';
import {
  deleteSearchRow,
  findMatches,
  insertSearchRow,
  isPrefixWord,
  type MatchQuery,
  type MatchRow,
  type SearchKey,
  searchableText,
  searchWords,
} from './store.ts';

export type GroupKey = 'room_id' | 'sender';

/** The `room_events` criteria, checked by the endpoint. */
export interface RoomEventsCriteria {
  readonly searchTerm: string;
  readonly keys: readonly SearchKey[];
  readonly filter: EventFilter;
  readonly rooms?: readonly string[] | undefined;
  readonly notRooms?: readonly string[] | undefined;
  readonly limit: number;
  readonly orderBy: 'rank' | 'recent';
  readonly eventContext?:
    | {
        readonly beforeLimit: number;
        readonly afterLimit: number;
        readonly includeProfile: boolean;
      }
    | undefined;
  readonly includeState: boolean;
  readonly groupBy: readonly GroupKey[];
}

/** Where a `next_batch` continues: the order it belongs to, and the group it stays in. */
export interface SearchToken {
  readonly order: 'rank' | 'recent';
  /** By rank: index rows already read. */
  readonly offset: number;
  /** By recency: continue below this stream position. */
  readonly before: number | undefined;
  readonly group?: { readonly key: GroupKey; readonly value: string } | undefined;
}

/** Encodes a token (base64url of JSON: opaque to clients). */
function encodeSearchToken(token: SearchToken): string {
  const json = {
    o: token.order,
    ...(token.order === 'rank' ? { n: token.offset } : { p: token.before }),
    ...(token.group !== undefined ? { g: token.group.key, v: token.group.value } : {}),
  };
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

/** Rows of the index read per statement while a page of results fills. */
const BATCH_MIN = 20;
/**
 * Batches one request reads at most (by rank, in one statement of that many batches' rows):
 * matches the user may not see (a `joined` room's history before they came) cannot make one
 * request read the whole index; the page comes back short, with a `next_batch` that continues
 * after them.
 */
const MAX_BATCHES = 10;

export class SearchService {
  readonly ctx: ServerContext;
  readonly #rooms: RoomService;
  readonly #relations: RelationsService;
  readonly #ignoredUsers: IgnoredUsersLookup;

  constructor(
    ctx: ServerContext,
    rooms: RoomService,
    relations: RelationsService,
    ignoredUsers: IgnoredUsersLookup,
  ) {
    this.ctx = ctx;
    this.#rooms = rooms;
    this.#relations = relations;
    this.#ignoredUsers = ignoredUsers;
    rooms.onTimelineEvent((tx, event) =>
      ctx.db.dialect === 'sqlite'
        ? // At the end of the event's transaction, out of every savepoint: each SAVEPOINT and
          // RELEASE after an FTS5 write flushes a new index segment (database.ts `beforeCommit`),
          // and a batch of sends runs each send in a savepoint. Index writes keep their order,
          // so a redaction in the same transaction still removes the row of an event indexed
          // before it.
          tx.beforeCommit(() => this.#indexLate(tx, event))
        : this.#index(tx, event),
    );
  }

  /**
   * The timeline listener: a redaction removes its target from the index; an accepted timeline
   * event with a string body, name or topic is added (one INSERT).
   */
  async #index(tx: SqlExecutor, event: StoredEvent): Promise<void> {
    const dialect = this.ctx.db.dialect;
    const target = redactsOf(event);
    if (target !== undefined) await deleteSearchRow(tx, dialect, target, event.roomId);
    if (event.streamPosition === null || event.redactedBecause !== undefined) return;
    const text = searchableText(event.pdu);
    if (text === undefined) return;
    await insertSearchRow(tx, dialect, event.streamPosition, text);
  }

  /**
   * `#index` at the end of a SQLite transaction. A failure there would roll back every send of
   * the batch and every PDU of a federation transaction, where the send or PDU it belongs to
   * was to fail alone; the index is derived data (search never returns a redacted event, row or
   * not), so it is reported and the event stays. A failure that ended the transaction itself
   * (SQLite rolls back on a full disk or an I/O error) still fails its COMMIT.
   */
  async #indexLate(tx: SqlExecutor, event: StoredEvent): Promise<void> {
    try {
      await this.#index(tx, event);
    } catch (error) {
      this.ctx.log.error('writing the search index failed; the event is stored unindexed', {
        eventId: event.eventId,
        error,
      });
    }
  }

  /** The `room_events` answer for `viewer` (spec "Results Room Events"). */
  async searchRoomEvents(
    viewer: { readonly userId: string; readonly deviceId: string },
    criteria: RoomEventsCriteria,
    token: SearchToken | undefined,
  ): Promise<Record<string, unknown>> {
    const words = searchWords(criteria.searchTerm);
    if (words.length === 0) return { count: 0, results: [], highlights: [] };
    const db = this.ctx.db;
    const dialect = db.dialect;
    const group = token?.group;
    const inGroup = (row: MatchRow): boolean =>
      group === undefined || (group.key === 'room_id' ? row.roomId : row.sender) === group.value;
    // A group narrows the SQL when the order allows: by recency a position cuts every group
    // alike; by rank the offset counts the rows of the whole search, so the group is kept here.
    const scoped: MatchQuery = {
      userId: viewer.userId,
      words,
      keys: criteria.keys,
      order: criteria.orderBy,
      rooms: group?.key === 'room_id' ? [group.value] : criteria.rooms,
      notRooms: criteria.notRooms,
      senders: group?.key === 'sender' ? [group.value] : criteria.filter.senders,
      notSenders: criteria.filter.notSenders,
    };
    const query: MatchQuery =
      criteria.orderBy === 'recent'
        ? scoped
        : { ...scoped, rooms: criteria.rooms, senders: criteria.filter.senders };

    // Fill one page: read index rows, keep the ones the filter and history visibility let
    // through. `offset` and `before` advance over every row looked at, kept or not.
    const found: { row: MatchRow; event: StoredEvent }[] = [];
    const read: MatchRow[] = [];
    let offset = token?.offset ?? 0;
    let before = token?.before;
    let exhausted = false;
    const batch = Math.max(BATCH_MIN, criteria.limit * 2);
    const bounds = new Map<string, number>();
    // What users the viewer ignores sent is never a result (spec "Ignoring Users").
    const ignored = this.#ignoredUsers.of(viewer.userId);
    // By rank: every row this request may look at, read once from `offset`.
    let ranked: MatchRow[] | undefined;
    const nextBatch = async (n: number): Promise<{ rows: MatchRow[]; last: boolean }> => {
      if (criteria.orderBy === 'recent') {
        const rows = await findMatches(db, dialect, query, { offset: 0, before, limit: batch });
        return { rows, last: rows.length < batch };
      }
      const limit = batch * MAX_BATCHES;
      ranked ??= await findMatches(db, dialect, query, { offset, before: undefined, limit });
      const rows = ranked.slice(n * batch, (n + 1) * batch);
      return { rows, last: ranked.length < limit && (n + 1) * batch >= ranked.length };
    };
    for (let batches = 0; found.length < criteria.limit && !exhausted; batches++) {
      if (batches === MAX_BATCHES) break;
      const { rows, last } = await nextBatch(batches);
      exhausted = last;
      const events = await this.#rooms.getEvents(rows.map((row) => row.eventId));
      const byRoom = new Map<string, StoredEvent[]>();
      for (const row of rows) {
        const event = events.get(row.eventId);
        if (event === undefined || event.redactedBecause !== undefined || !inGroup(row)) continue;
        if (!eventMatches(event, criteria.filter)) continue;
        if (withoutIgnored([event], ignored).length === 0) continue;
        const list = byRoom.get(row.roomId) ?? [];
        list.push(event);
        byRoom.set(row.roomId, list);
      }
      const visible = new Set<string>();
      for (const [roomId, list] of byRoom) {
        const passed = new Map(list.map((event) => [event.eventId, event]));
        for (const event of await filterEventsForUser(db, roomId, viewer.userId, list)) {
          // An erased sender's event the viewer gets only redacted (a copy of the PDU, not the
          // one searched) matched on content they may not see: no result for them. A copy with
          // only its `prev_content` redacted still matched on what they see.
          if (passed.get(event.eventId)?.pdu === event.pdu) visible.add(event.eventId);
        }
      }
      let taken = 0;
      for (const row of rows) {
        if (found.length >= criteria.limit) break;
        taken += 1;
        read.push(row);
        const event = events.get(row.eventId);
        if (event !== undefined && visible.has(row.eventId)) found.push({ row, event });
      }
      if (taken < rows.length) exhausted = false;
      offset += taken;
      before = read.at(-1)?.position ?? before;
    }

    const nextToken = (scope?: { key: GroupKey; value: string }): SearchToken | undefined =>
      exhausted ? undefined : { order: criteria.orderBy, offset, before, group: scope ?? group };

    // Serialize per room, with bundled aggregations as /messages serves them.
    const served = new Map<string, Record<string, unknown>>();
    const resultsByRoom = new Map<string, StoredEvent[]>();
    for (const { event } of found) {
      const list = resultsByRoom.get(event.roomId) ?? [];
      list.push(event);
      resultsByRoom.set(event.roomId, list);
    }
    for (const [roomId, list] of resultsByRoom) {
      const bound = await this.#bound(roomId, viewer.userId, bounds);
      const clientEvents = await this.#relations.clientEvents(roomId, viewer, list, bound);
      list.forEach((event, i) => {
        const out = clientEvents[i];
        if (out !== undefined) served.set(event.eventId, out);
      });
    }

    const results: Record<string, unknown>[] = [];
    const highlights = new Set<string>(words);
    for (const { row, event } of found) {
      const result: Record<string, unknown> = {
        rank: row.rank,
        result: served.get(event.eventId) ?? this.#rooms.clientEvent(event, { viewer }),
      };
      if (criteria.eventContext !== undefined) {
        result['context'] = await this.#context(
          viewer,
          event,
          criteria,
          criteria.eventContext,
          await this.#bound(event.roomId, viewer.userId, bounds),
        );
      }
      results.push(result);
      for (const token of matchedTokens(event, criteria.keys, words)) highlights.add(token);
    }

    const answer: Record<string, unknown> = { results, highlights: [...highlights] };
    // Only a first page that is the whole answer is counted (see the header).
    if (token === undefined && exhausted) answer['count'] = results.length;
    const next = nextToken(undefined);
    if (next !== undefined) answer['next_batch'] = encodeSearchToken(next);
    if (criteria.includeState) {
      const state: Record<string, unknown> = {};
      for (const roomId of resultsByRoom.keys()) {
        state[roomId] = await this.#visibleState(roomId, viewer.userId);
      }
      answer['state'] = state;
    }
    if (criteria.groupBy.length > 0) {
      const groups: Record<string, Record<string, unknown>> = {};
      for (const key of criteria.groupBy) {
        const byValue: Record<string, { results: string[]; order: number; next_batch?: string }> =
          {};
        let order = 0;
        for (const { row } of found) {
          const value = key === 'room_id' ? row.roomId : row.sender;
          let entry = byValue[value];
          if (entry === undefined) {
            order += 1;
            entry = { results: [], order };
            const more = nextToken({ key, value });
            if (more !== undefined) entry.next_batch = encodeSearchToken(more);
            byValue[value] = entry;
          }
          entry.results.push(row.eventId);
        }
        groups[key] = byValue;
      }
      answer['groups'] = groups;
    }
    return answer;
  }

  /** The last position `userId` may see in `roomId`: now if joined, else their leaving. */
  async #bound(roomId: string, userId: string, cache: Map<string, number>): Promise<number> {
    let bound = cache.get(roomId);
    if (bound === undefined) {
      const membership = await this.#rooms.membership(roomId, userId);
      bound =
        membership?.membership === 'join' || membership === undefined
          ? await currentStreamPosition(this.ctx.db)
          : membership.streamPosition;
      cache.set(roomId, bound);
    }
    return bound;
  }

  /** The room's state as the user sees it: current if joined, else as they left it. */
  async #visibleState(roomId: string, userId: string): Promise<Record<string, unknown>[]> {
    const membership = await this.#rooms.membership(roomId, userId);
    const state =
      membership?.membership === 'join'
        ? await this.#rooms.currentState(roomId)
        : await this.#rooms.stateAtPosition(roomId, membership?.streamPosition ?? 0);
    return (await this.#rooms.stateEvents(state)).map((event) => this.#rooms.clientEvent(event));
  }

  /** `context` of one result (spec "Event Context"), filtered as the search is. */
  async #context(
    viewer: { readonly userId: string; readonly deviceId: string },
    event: StoredEvent,
    criteria: RoomEventsCriteria,
    options: NonNullable<RoomEventsCriteria['eventContext']>,
    bound: number,
  ): Promise<Record<string, unknown>> {
    const db = this.ctx.db;
    const position = event.streamPosition ?? 0;
    const around = async (dir: 'b' | 'f', limit: number) => {
      if (limit === 0) return { chunk: [] as StoredEvent[], end: undefined };
      const page = await paginate(db, this.#rooms.events, event.roomId, {
        from: dir === 'b' ? position - 1 : position,
        dir,
        limit,
        filter: criteria.filter,
        bound,
      });
      return {
        chunk: withoutIgnored(
          await filterEventsForUser(db, event.roomId, viewer.userId, page.chunk),
          this.#ignoredUsers.of(viewer.userId),
        ),
        end: page.end,
      };
    };
    const before = await around('b', options.beforeLimit);
    const after = await around('f', options.afterLimit);
    const context: Record<string, unknown> = {
      events_before: before.chunk.map((e) => this.#rooms.clientEvent(e, { viewer })),
      events_after: after.chunk.map((e) => this.#rooms.clientEvent(e, { viewer })),
      start: before.end ?? roomToken(0),
      end: after.end ?? roomToken(after.chunk.at(-1)?.streamPosition ?? position),
    };
    if (options.includeProfile) {
      // Spec: the *historic* profiles: the senders' member events in the state at the result.
      const state = await this.#rooms.stateAfterEvent(event);
      const senders = new Set([event, ...before.chunk, ...after.chunk].map((e) => e.sender));
      const ids = [...senders].flatMap((sender) => {
        const id = state.get(stateKeyOf('m.room.member', sender));
        return id === undefined ? [] : [id];
      });
      // An erased sender's profile as the timeline serves it (redacted for a later joiner).
      const members = await stateEventsForUser(db, event.roomId, viewer.userId, [
        ...(await this.#rooms.getEvents(ids)).values(),
      ]);
      const profiles: Record<string, Record<string, string>> = {};
      for (const member of members) {
        if (member.stateKey === undefined) continue;
        const content = member.pdu['content'] as Record<string, unknown> | undefined;
        const profile: Record<string, string> = {};
        if (typeof content?.['displayname'] === 'string') {
          profile['displayname'] = content['displayname'];
        }
        if (
          typeof content?.['avatar_url'] === 'string' &&
          content['avatar_url'].startsWith('mxc://')
        ) {
          profile['avatar_url'] = content['avatar_url'];
        }
        profiles[member.stateKey] = profile;
      }
      context['profile_info'] = profiles;
    }
    return context;
  }
}

/**
 * The words of `event`'s searched text that a search word matches (begins, or equals when too
 * short to be a prefix), for `highlights`.
 */
function matchedTokens(
  event: StoredEvent,
  keys: readonly SearchKey[],
  words: readonly string[],
): string[] {
  const content = event.pdu['content'] as Record<string, unknown> | undefined;
  const out: string[] = [];
  for (const key of keys) {
    const value = content?.[key.slice('content.'.length)];
    if (typeof value !== 'string') continue;
    for (const token of value.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu) ?? []) {
      const hit = words.some((word) =>
        isPrefixWord(word) ? token.startsWith(word) : token === word,
      );
      if (hit && !out.includes(token)) out.push(token);
      if (out.length >= 32) return out;
    }
  }
  return out;
}
