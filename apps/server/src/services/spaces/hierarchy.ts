/**
 * Space hierarchies (client-server-api "Spaces",
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidhierarchy, and
 * server-server-api "Spaces"): the tree of `m.space.child` events under a room, walked depth
 * first in the spec's child order (as Synapse walks it), each room once, leaving out rooms the
 * viewer may not preview (summary.ts) — and their subtrees, which are reached through them.
 *
 * A child this server has no state for is asked of the servers in its `via` (remote.ts, the
 * federation `GET /hierarchy`); the answer's children come with summaries, used as they are for
 * rooms that are not spaces (or at `max_depth`), and the ones it calls inaccessible are not
 * asked for. The viewer's preview rules apply to remote summaries too. The root must be known
 * here (there is no `via` for it): 403 otherwise. One request asks about at most
 * REMOTE_FETCHES_PER_REQUEST rooms within REMOTE_DEADLINE_MS (remote.ts); children it could not
 * ask about are left out of the page, which holds what is known.
 *
 * Pages are stateless: `next_batch` holds how many rooms earlier pages returned, with the
 * `suggested_only` and `max_depth` they were asked with; the next page walks the tree again and
 * skips that many. The walk is deterministic while the tree does not change.
 */
import { MatrixError } from '@weft/transport';

import type { RoomService } from '../rooms/service.ts';
import { type RemoteBudget, type RemoteHierarchyFetch, remoteBudget } from './remote.ts';
import {
  type ChildState,
  childrenOf,
  type RoomSummary,
  type SummarisedRoom,
  serverMayPreview,
  sortChildren,
  summariseRoom,
  userMayPreview,
} from './summary.ts';

/** The rooms one walk summarises at most (previews, skipped ones and pages before included). */
const MAX_WALKED_ROOMS = 2_000;
/** Children of one space looked at, at most (Synapse's MAX_ROOMS_PER_SPACE). */
const MAX_CHILDREN_PER_SPACE = 50;

/** One room of the client answer: its summary and (for a space) its child events. */
export type HierarchyRoom = RoomSummary & { readonly children_state: ChildState[] };

export interface HierarchyOptions {
  readonly roomId: string;
  readonly userId: string;
  readonly suggestedOnly: boolean;
  /** Children deeper than this are not walked; `undefined`: no limit. */
  readonly maxDepth: number | undefined;
  readonly limit: number;
  readonly from: string | undefined;
  /** Asks other servers about children this server does not know; none: they are skipped. */
  readonly remote?: RemoteHierarchyFetch | undefined;
  /** What this request may spend on other servers (default: remote.ts's per-request budget). */
  readonly remoteBudget?: RemoteBudget | undefined;
}

interface PageToken {
  readonly offset: number;
  readonly suggestedOnly: boolean;
  readonly maxDepth: number | undefined;
}

function pageToken(token: PageToken): string {
  return `h${token.offset}_${token.suggestedOnly ? 1 : 0}_${token.maxDepth ?? 'n'}`;
}

function parsePageToken(raw: string): PageToken {
  const match = /^h(\d{1,9})_([01])_(\d{1,9}|n)$/.exec(raw);
  if (match === null) throw MatrixError.invalidParam('Unknown pagination token');
  return {
    offset: Number(match[1]),
    suggestedOnly: match[2] === '1',
    maxDepth: match[3] === 'n' ? undefined : Number(match[3]),
  };
}

/** The children to walk of a summarised room: those of a space, none of any other room. */
async function childEvents(
  rooms: RoomService,
  room: SummarisedRoom,
  suggestedOnly: boolean,
): Promise<ChildState[]> {
  if (room.summary.room_type !== 'm.space') return [];
  return (await childrenOf(rooms, room.summary.room_id, suggestedOnly)).slice(
    0,
    MAX_CHILDREN_PER_SPACE,
  );
}

interface StackEntry {
  readonly roomId: string;
  readonly depth: number;
  /** The servers its parent's `m.space.child` names. */
  readonly via: readonly string[];
  /** Its summary from the parent's remote answer, if the parent was asked remotely. */
  readonly remote?: RoomSummary | undefined;
}

interface FoundRoom {
  readonly room: SummarisedRoom;
  readonly children: readonly ChildState[];
  readonly remoteChildren?: ReadonlyMap<string, RoomSummary>;
  readonly inaccessible?: ReadonlySet<string>;
}

function remoteRoom(summary: RoomSummary): SummarisedRoom {
  return { summary, allowedRoomIds: summary.allowed_room_ids ?? [] };
}

/** A room of the walk below the root: from local state, or from the `via` servers. */
async function roomAt(
  rooms: RoomService,
  entry: StackEntry,
  options: HierarchyOptions,
  atMaxDepth: boolean,
  budget: RemoteBudget,
): Promise<FoundRoom | undefined> {
  const local = await summariseRoom(rooms, entry.roomId);
  if (local !== undefined) {
    return { room: local, children: await childEvents(rooms, local, options.suggestedOnly) };
  }
  // A summary the parent's server gave is enough when no children are needed (Synapse).
  if (entry.remote !== undefined && (entry.remote.room_type !== 'm.space' || atMaxDepth)) {
    return { room: remoteRoom(entry.remote), children: [] };
  }
  const answer = await options.remote?.(entry.roomId, entry.via, options.suggestedOnly, budget);
  if (answer === undefined) return undefined;
  const children =
    answer.room.room_type === 'm.space'
      ? sortChildren([...answer.childrenState])
          .filter((child) => !options.suggestedOnly || child.content['suggested'] === true)
          .slice(0, MAX_CHILDREN_PER_SPACE)
      : [];
  return {
    room: remoteRoom(answer.room),
    children,
    remoteChildren: answer.children,
    inaccessible: answer.inaccessible,
  };
}

/**
 * One page of the hierarchy under `roomId` for `userId`.
 * @throws MatrixError 403 when the viewer may not preview the room itself (or it is unknown),
 *   400 for a `from` token that does not match `suggested_only` and `max_depth`.
 */
export async function spaceHierarchy(
  rooms: RoomService,
  options: HierarchyOptions,
): Promise<{ rooms: HierarchyRoom[]; next_batch?: string }> {
  const db = rooms.ctx.db;
  let offset = 0;
  if (options.from !== undefined) {
    const token = parsePageToken(options.from);
    if (token.suggestedOnly !== options.suggestedOnly || token.maxDepth !== options.maxDepth) {
      throw MatrixError.invalidParam(
        'suggested_only and max_depth cannot change on paginated requests',
      );
    }
    offset = token.offset;
  }
  const root = await summariseRoom(rooms, options.roomId);
  if (root === undefined || !(await userMayPreview(db, root, options.userId))) {
    throw MatrixError.forbidden('You are not allowed to view this room');
  }
  // The next room is last on the stack; children are pushed in reverse so the first comes next.
  const stack: StackEntry[] = [{ roomId: options.roomId, depth: 0, via: [] }];
  const budget = options.remoteBudget ?? remoteBudget();
  const processed = new Set<string>();
  const page: HierarchyRoom[] = [];
  let seen = 0;
  let walked = 0;
  while (stack.length > 0 && page.length < options.limit && walked < MAX_WALKED_ROOMS) {
    const entry = stack.pop();
    if (entry === undefined || processed.has(entry.roomId)) continue;
    processed.add(entry.roomId);
    walked += 1;
    const atMaxDepth = options.maxDepth !== undefined && entry.depth >= options.maxDepth;
    const found =
      entry.depth === 0
        ? { room: root, children: await childEvents(rooms, root, options.suggestedOnly) }
        : await roomAt(rooms, entry, options, atMaxDepth, budget);
    if (found === undefined || !(await userMayPreview(db, found.room, options.userId))) continue;
    const { room, children } = found;
    if (seen >= offset) page.push({ ...room.summary, children_state: [...children] });
    seen += 1;
    if (!atMaxDepth) {
      for (const child of [...children].reverse()) {
        if (processed.has(child.state_key) || found.inaccessible?.has(child.state_key)) continue;
        stack.push({
          roomId: child.state_key,
          depth: entry.depth + 1,
          via: (child.content['via'] as string[]).slice(0, 10),
          remote: found.remoteChildren?.get(child.state_key),
        });
      }
    }
  }
  const more = stack.some((entry) => !processed.has(entry.roomId));
  return {
    rooms: page,
    ...(more && walked < MAX_WALKED_ROOMS
      ? {
          next_batch: pageToken({
            offset: seen,
            suggestedOnly: options.suggestedOnly,
            maxDepth: options.maxDepth,
          }),
        }
      : {}),
  };
}

/**
 * The federation answer (server-server-api `GET /hierarchy/{roomId}`): the room with its child
 * events, the summaries of the children this server knows and `origin` may preview, and the
 * known children it may not (`inaccessible_children`); unknown children are left out.
 * @throws MatrixError 404 for a room this server does not know or `origin` may not preview.
 */
export async function federationHierarchy(
  rooms: RoomService,
  roomId: string,
  origin: string,
  suggestedOnly: boolean,
): Promise<{
  room: HierarchyRoom;
  children: RoomSummary[];
  inaccessible_children: string[];
}> {
  const db = rooms.ctx.db;
  const root = await summariseRoom(rooms, roomId);
  if (root === undefined || !(await serverMayPreview(db, root, origin))) {
    throw MatrixError.notFound('Room does not exist');
  }
  const childStates = await childEvents(rooms, root, suggestedOnly);
  const children: RoomSummary[] = [];
  const inaccessible: string[] = [];
  for (const child of childStates) {
    const room = await summariseRoom(rooms, child.state_key);
    if (room === undefined) continue;
    if (await serverMayPreview(db, room, origin)) children.push(room.summary);
    else inaccessible.push(child.state_key);
  }
  return {
    room: { ...root.summary, children_state: childStates },
    children,
    inaccessible_children: inaccessible,
  };
}
