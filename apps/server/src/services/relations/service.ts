/**
 * Event relationships (client-server-api "Forming relationships between events", "Threading",
 * "Event replacements", "Reference relations"; https://spec.matrix.org/v1.19/client-server-api/
 * #forming-relationships-between-events): the `event_relations` index (migration 0107), kept by
 * a timeline listener in each event's own transaction — local sends and events received over
 * federation alike — and what the endpoints read from it: a parent's children (`GET
 * /relations`), a room's thread roots by latest activity (`GET /threads`) and the bundled
 * aggregations (`unsigned["m.relations"]`) of `m.thread`, `m.replace` and `m.reference`.
 *
 * Stream order is the order of a room's timeline here (services/rooms/timeline.ts), so "most
 * recent topologically" is the highest stream position, and pagination tokens are the
 * `/messages` ones (`t<N>`). Aggregations count the children at or before the viewer's bound
 * (a user who left sees none sent after). What users the viewer ignores sent (spec "Ignoring
 * Users") is left out everywhere here: of `/relations` pages, of `/threads` (a thread counts
 * only its other users' events, and one whose root or every reply is theirs is not listed), of
 * bundled references and edits, and of `m.thread` counts and `latest_event`.
 */

import { isObject } from '../../json-object.ts';
import { placeholders } from '../../storage/in-list.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { IgnoredUsersLookup } from '../account-data/ignored-users.ts';
import type { ServerContext } from '../core/context.ts';
import { filterEventsForUser } from '../rooms/event-visibility.ts';
import { type RoomService, redactsOf } from '../rooms/service.ts';
import type { StoredEvent } from '../rooms/types.ts';
import { relationOf, withRelationBundle } from './relation.ts';

/** How deep `recurse=true` follows relations of relations (the spec asks for at least 3). */
export const RECURSION_DEPTH = 3;

/** Most relation rows one `recurse=true` walk visits (both legs; the page is cut from them). */
export const RECURSION_VISIT_CAP = 1000;

/** Most parents one aggregation statement asks about. */
const PARENTS_PER_STATEMENT = 200;

/** ` AND <column> NOT IN (…)` over `ignored`, its values appended to `params`; '' when none. */
function notIgnored(
  column: string,
  ignored: ReadonlySet<string> | undefined,
  params: (string | number)[],
): string {
  if (ignored === undefined || ignored.size === 0) return '';
  const first = params.length + 1;
  params.push(...ignored);
  return ` AND ${column} NOT IN (${placeholders(ignored.size, first)})`;
}

/** Which children of a parent `GET /relations` asks for. */
export interface ChildrenQuery {
  readonly roomId: string;
  readonly parentId: string;
  readonly relType?: string | undefined;
  readonly eventType?: string | undefined;
  /** Backwards: positions ≤ from; forwards: positions > from. */
  readonly from: number;
  /** Backwards: positions > to; forwards: positions ≤ to. */
  readonly to?: number | undefined;
  readonly dir: 'b' | 'f';
  readonly limit: number;
  /** The last position the viewer may see. */
  readonly bound: number;
  readonly recurse: boolean;
  /** Senders left out of the page (the viewer's ignored users). */
  readonly ignored?: ReadonlySet<string> | undefined;
}

/** One page of child event IDs; `next` is the position to continue from, if more remain. */
export interface ChildrenPage {
  readonly eventIds: readonly string[];
  readonly next: number | undefined;
}

/** One page of thread roots, newest activity first; `next` continues below that activity. */
export interface ThreadsPage {
  readonly rootIds: readonly string[];
  readonly next: number | undefined;
}

export class RelationsService {
  readonly ctx: ServerContext;
  readonly #rooms: RoomService;
  #ignoredUsers: IgnoredUsersLookup | undefined;

  constructor(ctx: ServerContext, rooms: RoomService) {
    this.ctx = ctx;
    this.#rooms = rooms;
    rooms.onTimelineEvent((tx, event) => indexRelation(tx, event));
  }

  /** Where the users each viewer ignores come from (account data's `m.ignored_user_list`). */
  setIgnoredUsers(source: IgnoredUsersLookup): void {
    this.#ignoredUsers = source;
  }

  /** The users `userId` ignores, `undefined` when none. */
  ignoredBy(userId: string): ReadonlySet<string> | undefined {
    return this.#ignoredUsers?.of(userId);
  }

  /** The children of `query.parentId` in pagination order (see {@link ChildrenQuery}). */
  async children(query: ChildrenQuery): Promise<ChildrenPage> {
    const backwards = query.dir === 'b';
    const lower = backwards ? (query.to ?? 0) : query.from;
    const upper = Math.min(
      query.bound,
      backwards ? query.from : (query.to ?? Number.MAX_SAFE_INTEGER),
    );
    const params: (string | number)[] = [query.parentId, query.roomId];
    let filter = '';
    if (query.relType !== undefined) {
      params.push(query.relType);
      filter += ` AND r.rel_type = $${params.length}`;
      if (query.eventType !== undefined) {
        params.push(query.eventType);
        filter += ` AND r.type = $${params.length}`;
      }
    }
    params.push(lower, upper, query.limit + 1);
    const [lo, hi, limit] = [params.length - 2, params.length - 1, params.length];
    const ignored = notIgnored('r.sender', query.ignored, params);
    const order = backwards ? 'DESC' : 'ASC';
    const range = `r.stream_position > $${lo} AND r.stream_position <= $${hi}`;
    // The walk: the page's upper bound in both legs (a child comes after its parent, so nothing
    // above it leads back into the page; the lower bound only cuts the result, as a child before
    // the page may have children in it), and at most RECURSION_VISIT_CAP rows visited: SQLite
    // stops the recursion at its recursive leg's LIMIT; PostgreSQL (which refuses a LIMIT there)
    // computes a WITH query only as far as its reader fetches, so the LIMIT of `capped` stops it.
    const upperOnly = `r.stream_position <= $${hi}`;
    const sqliteCap = this.ctx.db.dialect === 'sqlite' ? ` LIMIT ${RECURSION_VISIT_CAP}` : '';
    const sql = query.recurse
      ? `WITH RECURSIVE related (event_id, depth) AS (
           SELECT r.event_id, 1 FROM event_relations r
            WHERE r.relates_to_id = $1 AND r.room_id = $2${filter} AND ${upperOnly}
           UNION ALL
           SELECT r.event_id, related.depth + 1 FROM event_relations r
             JOIN related ON r.relates_to_id = related.event_id
            WHERE related.depth < ${RECURSION_DEPTH} AND r.room_id = $2${filter}
              AND ${upperOnly}${sqliteCap}
         )
         SELECT r.event_id, r.stream_position FROM
           (SELECT event_id FROM related LIMIT ${RECURSION_VISIT_CAP}) capped
           JOIN event_relations r ON r.event_id = capped.event_id
          WHERE ${range}${ignored} ORDER BY r.stream_position ${order} LIMIT $${limit}`
      : `SELECT r.event_id, r.stream_position FROM event_relations r
          WHERE r.relates_to_id = $1 AND r.room_id = $2${filter} AND ${range}${ignored}
          ORDER BY r.stream_position ${order} LIMIT $${limit}`;
    const rows = await this.ctx.db.query<{ event_id: string; stream_position: number }>(
      sql,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const next =
      rows.length > query.limit && last !== undefined
        ? Number(last.stream_position) - (backwards ? 1 : 0)
        : undefined;
    return { eventIds: page.map((row) => row.event_id), next };
  }

  /**
   * The room's thread roots (events of the room with at least one `m.thread` child at or before
   * `bound`), by their latest thread event, newest first, below `before`; `participated`: only
   * threads `userId` started or replied in (spec "Server-side aggregation of `m.thread`
   * relationships", `current_user_participated`).
   */
  async threadRoots(options: {
    readonly roomId: string;
    readonly userId: string;
    readonly participated: boolean;
    readonly before: number;
    readonly bound: number;
    readonly limit: number;
    /** The viewer sees the room up to now (joined): `thread_roots` can answer. */
    readonly current?: boolean | undefined;
  }): Promise<ThreadsPage> {
    if (options.current === true) {
      return this.#indexedThreadRoots({ ...options, ignored: this.ignoredBy(options.userId) });
    }
    // Every thread's latest event has its own position: `before` cuts between threads.
    const params: (string | number)[] = [options.roomId, options.bound, options.before];
    let participation = '';
    if (options.participated) {
      params.push(options.userId);
      participation = ` AND (p.sender = $4 OR SUM(CASE WHEN r.sender = $4 THEN 1 ELSE 0 END) > 0)`;
    }
    // Neither the replies nor the roots of ignored users count.
    const ignoredUsers = this.ignoredBy(options.userId);
    const ignored =
      notIgnored('r.sender', ignoredUsers, params) + notIgnored('p.sender', ignoredUsers, params);
    params.push(options.limit + 1);
    const rows = await this.ctx.db.query<{ relates_to_id: string; latest: number }>(
      `SELECT r.relates_to_id, MAX(r.stream_position) AS latest FROM event_relations r
         JOIN events p ON p.event_id = r.relates_to_id AND p.room_id = r.room_id
        WHERE r.room_id = $1 AND r.rel_type = 'm.thread' AND r.stream_position <= $2
          AND p.stream_position IS NOT NULL${ignored}
        GROUP BY r.relates_to_id, p.sender
       HAVING MAX(r.stream_position) < $3${participation}
        ORDER BY latest DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      rootIds: page.map((row) => row.relates_to_id),
      next: rows.length > options.limit && last !== undefined ? Number(last.latest) : undefined,
    };
  }

  /**
   * `threadRoots` for a viewer who sees the room up to now, from `thread_roots` (migration 0114):
   * one range of `thread_roots_by_latest` per page, not a grouping of every thread reply of the
   * room; `participated` asks `event_relations_thread_senders` per root. A user who left is
   * bounded below some threads' latest activity, which that table does not keep: they get the
   * grouping of the replies up to their leaving (above). For a viewer who ignores users, a
   * root of theirs and a thread with no reply from anyone else are skipped; the others keep
   * their place by their latest reply, an ignored user's included (as Synapse orders them).
   */
  async #indexedThreadRoots(options: {
    readonly roomId: string;
    readonly userId: string;
    readonly participated: boolean;
    readonly before: number;
    readonly limit: number;
    readonly ignored: ReadonlySet<string> | undefined;
  }): Promise<ThreadsPage> {
    const params: (string | number)[] = [options.roomId, options.before];
    let participation = '';
    if (options.participated) {
      params.push(options.userId);
      participation = ` AND (p.sender = $3 OR EXISTS (SELECT 1 FROM event_relations r
          WHERE r.relates_to_id = t.root_id AND r.rel_type = 'm.thread' AND r.sender = $3
            AND r.room_id = t.room_id))`;
    }
    let ignored = notIgnored('p.sender', options.ignored, params);
    if (ignored !== '') {
      ignored += ` AND EXISTS (SELECT 1 FROM event_relations r
          WHERE r.relates_to_id = t.root_id AND r.rel_type = 'm.thread'
            AND r.room_id = t.room_id${notIgnored('r.sender', options.ignored, params)})`;
    }
    params.push(options.limit + 1);
    const rows = await this.ctx.db.query<{ root_id: string; latest_position: number }>(
      `SELECT t.root_id, t.latest_position FROM thread_roots t
         JOIN events p ON p.event_id = t.root_id AND p.room_id = t.room_id
        WHERE t.room_id = $1 AND t.latest_position < $2
          AND p.stream_position IS NOT NULL${participation}${ignored}
        ORDER BY t.latest_position DESC LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, options.limit);
    const last = page.at(-1);
    return {
      rootIds: page.map((row) => row.root_id),
      next:
        rows.length > options.limit && last !== undefined
          ? Number(last.latest_position)
          : undefined,
    };
  }

  /**
   * Bundled aggregations (spec "Aggregations of child events") of `events` (all of `roomId`) as
   * `userId` sees them at `bound`: event ID → `unsigned["m.relations"]`, for events that have
   * any. State events get none (spec: "State events do not currently receive bundled
   * aggregations").
   */
  async bundles(
    roomId: string,
    userId: string,
    events: readonly StoredEvent[],
    bound: number,
    withThreads = true,
  ): Promise<Map<string, Record<string, unknown>>> {
    const out = new Map<string, Record<string, unknown>>();
    const parents = events.filter((event) => event.stateKey === undefined);
    if (parents.length === 0) return out;
    const db = this.ctx.db;
    const ignored = this.ignoredBy(userId);
    const byId = new Map(parents.map((event) => [event.eventId, event]));
    const ids = [...byId.keys()];
    const bundleOf = (id: string): Record<string, unknown> => {
      let bundle = out.get(id);
      if (bundle === undefined) {
        bundle = {};
        out.set(id, bundle);
      }
      return bundle;
    };

    // m.replace and m.reference: the (few) children themselves, each bundled only when the
    // viewer's history visibility shows it (as the thread's latest event).
    const edits = new Map<string, { eventId: string; ts: number }[]>();
    const references: { parentId: string; eventId: string }[] = [];
    for (let i = 0; i < ids.length; i += PARENTS_PER_STATEMENT) {
      const chunk = ids.slice(i, i + PARENTS_PER_STATEMENT);
      const params: (string | number)[] = [roomId, bound, ...chunk];
      const notTheirs = notIgnored('sender', ignored, params);
      const rows = await db.query<{
        event_id: string;
        relates_to_id: string;
        rel_type: string;
        sender: string;
        type: string;
        origin_server_ts: number;
      }>(
        `SELECT event_id, relates_to_id, rel_type, sender, type, origin_server_ts
           FROM event_relations
          WHERE relates_to_id IN (${placeholders(chunk.length, 3)})
            AND rel_type IN ('m.replace', 'm.reference')
            AND room_id = $1 AND stream_position <= $2${notTheirs}
          ORDER BY stream_position`,
        params,
      );
      for (const row of rows) {
        const parent = byId.get(row.relates_to_id);
        if (parent === undefined) continue;
        if (row.rel_type === 'm.reference') {
          references.push({ parentId: parent.eventId, eventId: row.event_id });
        } else if (
          // Spec "Validity of replacement events": same sender and type, no state events, not
          // an edit of an edit; a redacted original bundles no edit.
          row.sender === parent.sender &&
          row.type === parent.type &&
          parent.redactedBecause === undefined &&
          relationOf(parent.pdu)?.relType !== 'm.replace'
        ) {
          const list = edits.get(parent.eventId) ?? [];
          list.push({ eventId: row.event_id, ts: Number(row.origin_server_ts) });
          edits.set(parent.eventId, list);
        }
      }
    }
    if (edits.size > 0 || references.length > 0) {
      const loaded = await this.#rooms.getEvents([
        ...[...edits.values()].flat().map((e) => e.eventId),
        ...references.map((r) => r.eventId),
      ]);
      const shown = await filterEventsForUser(db, roomId, userId, [...loaded.values()]);
      const candidates = new Map(shown.map((event) => [event.eventId, event]));
      for (const { parentId, eventId } of references) {
        if (!candidates.has(eventId)) continue;
        const bundle = bundleOf(parentId);
        const reference = (bundle['m.reference'] ?? { chunk: [] }) as { chunk: unknown[] };
        reference.chunk.push({ event_id: eventId });
        bundle['m.reference'] = reference;
      }
      for (const [parentId, list] of edits) {
        // Spec: the most recent by origin_server_ts, then the lexicographically largest ID.
        list.sort(
          (a, b) => b.ts - a.ts || (a.eventId < b.eventId ? 1 : a.eventId > b.eventId ? -1 : 0),
        );
        const latest = list
          .map((edit) => candidates.get(edit.eventId))
          .find((edit) => edit !== undefined && isValidReplacement(edit));
        if (latest !== undefined) {
          bundleOf(parentId)['m.replace'] = this.#rooms.clientEvent(latest);
        }
      }
    }

    if (!withThreads) return out;
    // m.thread: counted in SQL; the latest event is read and serialized with its own bundle.
    const threads: { rootId: string; count: number; latest: number; mine: boolean }[] = [];
    for (let i = 0; i < ids.length; i += PARENTS_PER_STATEMENT) {
      const chunk = ids.slice(i, i + PARENTS_PER_STATEMENT);
      // The count and the latest event leave the ignored users' replies out (as Synapse).
      const params: (string | number)[] = [roomId, bound, userId, ...chunk];
      const notTheirs = notIgnored('sender', ignored, params);
      const rows = await db.query<{
        relates_to_id: string;
        count: number;
        latest: number;
        mine: number;
      }>(
        `SELECT relates_to_id, COUNT(*) AS count, MAX(stream_position) AS latest,
                SUM(CASE WHEN sender = $3 THEN 1 ELSE 0 END) AS mine
           FROM event_relations
          WHERE relates_to_id IN (${placeholders(chunk.length, 4)}) AND rel_type = 'm.thread'
            AND room_id = $1 AND stream_position <= $2${notTheirs}
          GROUP BY relates_to_id`,
        params,
      );
      for (const row of rows) {
        threads.push({
          rootId: row.relates_to_id,
          count: Number(row.count),
          latest: Number(row.latest),
          mine: Number(row.mine) > 0,
        });
      }
    }
    if (threads.length === 0) return out;
    const latestRows = await db.query<{ event_id: string }>(
      `SELECT event_id FROM events WHERE stream_position IN (${placeholders(threads.length)})`,
      threads.map((thread) => thread.latest),
    );
    const latestEvents = [
      ...(await this.#rooms.getEvents(latestRows.map((row) => row.event_id))).values(),
    ];
    const visible = await filterEventsForUser(db, roomId, userId, latestEvents);
    const latestBundles = await this.bundles(roomId, userId, visible, bound, false);
    const byPosition = new Map(visible.map((event) => [event.streamPosition, event]));
    for (const thread of threads) {
      const latest = byPosition.get(thread.latest);
      const root = byId.get(thread.rootId);
      if (latest === undefined || root === undefined) continue;
      bundleOf(thread.rootId)['m.thread'] = {
        latest_event: this.serialize(latest, latestBundles),
        count: thread.count,
        current_user_participated: thread.mine || root.sender === userId,
      };
    }
    return out;
  }

  /** `event` in the client format with its bundle from `bundles` (if any). */
  serialize(
    event: StoredEvent,
    bundles: ReadonlyMap<string, Record<string, unknown>>,
    viewer?: { readonly userId: string; readonly deviceId: string },
  ): Record<string, unknown> {
    const out = this.#rooms.clientEvent(event, viewer === undefined ? {} : { viewer });
    return withRelationBundle(out, bundles.get(event.eventId));
  }

  /**
   * `events` (all of `roomId`) in the client format with their bundled aggregations as the
   * viewer sees them at `bound` — what `/messages`, `/context`, `/event`, `/relations` and
   * `/threads` serve.
   */
  async clientEvents(
    roomId: string,
    viewer: { readonly userId: string; readonly deviceId: string },
    events: readonly StoredEvent[],
    bound: number,
  ): Promise<Record<string, unknown>[]> {
    const bundles = await this.bundles(roomId, viewer.userId, events, bound);
    return events.map((event) => this.serialize(event, bundles, viewer));
  }
}

/** Spec "Validity of replacement events", the parts the replacement decides itself. */
function isValidReplacement(edit: StoredEvent): boolean {
  if (edit.stateKey !== undefined || edit.redactedBecause !== undefined) return false;
  // An encrypted replacement carries `m.new_content` in its payload, which the server cannot see.
  if (edit.type === 'm.room.encrypted') return true;
  const content = edit.pdu['content'] as Record<string, unknown> | undefined;
  const newContent = content?.['m.new_content'];
  return isObject(newContent);
}

/**
 * The timeline listener: a redaction breaks its target's relationship (spec "Aggregations of
 * child events": "when a child event is redacted then the relationship is broken"); an event
 * with a relationship gets its row. `thread_roots` follows the `m.thread` rows: a new one raises
 * its root's latest position, a redacted one has it recomputed (or the row dropped).
 */
async function indexRelation(tx: SqlExecutor, event: StoredEvent): Promise<void> {
  const target = redactsOf(event);
  if (target !== undefined) {
    const reply = await tx.queryOne<{ relates_to_id: string }>(
      `SELECT relates_to_id FROM event_relations
        WHERE event_id = $1 AND room_id = $2 AND rel_type = 'm.thread'`,
      [target, event.roomId],
    );
    await tx.execute('DELETE FROM event_relations WHERE event_id = $1 AND room_id = $2', [
      target,
      event.roomId,
    ]);
    if (reply !== undefined) await refreshThreadRoot(tx, event.roomId, reply.relates_to_id);
  }
  if (event.streamPosition === null || event.redactedBecause !== undefined) return;
  const relation = relationOf(event.pdu);
  if (relation === undefined) return;
  await tx.execute(
    `INSERT INTO event_relations (event_id, room_id, relates_to_id, rel_type, type, sender,
       stream_position, origin_server_ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      event.eventId,
      event.roomId,
      relation.eventId,
      relation.relType,
      event.type,
      event.sender,
      event.streamPosition,
      event.originServerTs,
    ],
  );
  if (relation.relType === 'm.thread') {
    await tx.execute(
      `INSERT INTO thread_roots (room_id, root_id, latest_position) VALUES ($1, $2, $3)
       ON CONFLICT (room_id, root_id) DO UPDATE SET latest_position = CASE
         WHEN excluded.latest_position > thread_roots.latest_position
         THEN excluded.latest_position ELSE thread_roots.latest_position END`,
      [event.roomId, relation.eventId, event.streamPosition],
    );
  }
}

/** Sets the `thread_roots` row of `rootId` from its remaining `m.thread` children (or drops it). */
async function refreshThreadRoot(tx: SqlExecutor, roomId: string, rootId: string): Promise<void> {
  const row = await tx.queryOne<{ latest: number | null }>(
    `SELECT MAX(stream_position) AS latest FROM event_relations
      WHERE relates_to_id = $1 AND rel_type = 'm.thread' AND room_id = $2`,
    [rootId, roomId],
  );
  if (row?.latest === null || row?.latest === undefined) {
    await tx.execute('DELETE FROM thread_roots WHERE room_id = $1 AND root_id = $2', [
      roomId,
      rootId,
    ]);
    return;
  }
  await tx.execute(
    'UPDATE thread_roots SET latest_position = $3 WHERE room_id = $1 AND root_id = $2',
    [roomId, rootId, Number(row.latest)],
  );
}
