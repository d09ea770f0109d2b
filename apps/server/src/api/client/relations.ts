// GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
// GET /_matrix/client/v1/rooms/{roomId}/threads
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidrelationseventid
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidthreads
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { filterEventsForUser } from '../../services/rooms/event-visibility.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import { parseRoomToken, roomToken } from '../../services/rooms/timeline.ts';
import { type RoomView, roomView } from '../../services/rooms/visibility.ts';
import { parseLimit, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Synapse's default and cap for both endpoints' `limit`. */
const DEFAULT_RELATIONS_LIMIT = 5;
const MAX_RELATIONS_LIMIT = 1000;
const DEFAULT_THREADS_LIMIT = 5;
const MAX_THREADS_LIMIT = 100;

function parseToken(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  const position = parseRoomToken(raw);
  if (position === undefined) throw MatrixError.invalidParam(`${name} is not a valid token`);
  return position;
}

export function registerRelations(app: ClientApp, services: Services): void {
  const { rooms, relations } = services;

  /**
   * The parent event and the viewer's window, when the viewer may see the parent (as `/event`
   * decides); otherwise 404 M_NOT_FOUND, also for a room they may not read at all (the spec
   * documents only the 404: the parent "was not found or the user does not have permission").
   */
  const visibleParent = async (
    roomId: string,
    eventId: string,
    userId: string,
  ): Promise<{ parent: StoredEvent; view: RoomView }> => {
    let view: RoomView;
    try {
      view = await roomView(rooms, roomId, userId);
    } catch (error) {
      if (MatrixError.isInstance(error) && error.status === 403) {
        throw MatrixError.notFound('Event not found');
      }
      throw error;
    }
    const parent = await rooms.getEvent(eventId);
    if (
      parent === undefined ||
      parent.roomId !== roomId ||
      parent.streamPosition === null ||
      parent.streamPosition > view.bound ||
      (await filterEventsForUser(rooms.ctx.db, roomId, userId, [parent])).length === 0
    ) {
      throw MatrixError.notFound('Event not found');
    }
    return { parent, view };
  };

  for (const suffix of ['', '/:relType', '/:relType/:eventType'] as const) {
    clientEndpoint(app, {
      method: 'GET',
      path: `/rooms/:roomId/relations/:eventId${suffix}`,
      auth: 'user',
      versions: ['v1'],
      handler: async ({ params, query, user }) => {
        const p = params as Record<string, string | undefined>;
        const roomId = parseRoomId(String(p['roomId']));
        const dir = query.get('dir') ?? 'b';
        if (dir !== 'b' && dir !== 'f') throw MatrixError.invalidParam('dir must be b or f');
        const recurseRaw = query.get('recurse');
        if (recurseRaw !== null && recurseRaw !== 'true' && recurseRaw !== 'false') {
          throw MatrixError.invalidParam('recurse must be true or false');
        }
        const limit = parseLimit(query.get('limit'), DEFAULT_RELATIONS_LIMIT, MAX_RELATIONS_LIMIT);
        const fromToken = parseToken(query, 'from');
        const to = parseToken(query, 'to');
        const { view } = await visibleParent(roomId, String(p['eventId']), user.userId);
        const page = await relations.children({
          roomId,
          parentId: String(p['eventId']),
          relType: p['relType'],
          eventType: p['eventType'],
          from: fromToken ?? (dir === 'b' ? view.bound : 0),
          to,
          dir,
          limit,
          bound: view.bound,
          recurse: recurseRaw === 'true',
          ignored: relations.ignoredBy(user.userId),
        });
        const found = await rooms.getEvents(page.eventIds);
        const events = page.eventIds.flatMap((id) => found.get(id) ?? []);
        // Each child passes the same per-event history visibility as `/messages`.
        const visible = await filterEventsForUser(rooms.ctx.db, roomId, user.userId, events);
        const viewer = { userId: user.userId, deviceId: user.deviceId };
        return {
          chunk: await relations.clientEvents(roomId, viewer, visible, view.bound),
          ...(page.next !== undefined ? { next_batch: roomToken(page.next) } : {}),
          ...(fromToken !== undefined ? { prev_batch: String(query.get('from')) } : {}),
          ...(recurseRaw !== null ? { recursion_depth: recurseRaw === 'true' ? 3 : 1 } : {}),
        };
      },
    });
  }

  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/threads',
    auth: 'user',
    versions: ['v1'],
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const include = query.get('include') ?? 'all';
      if (include !== 'all' && include !== 'participated') {
        throw MatrixError.invalidParam('include must be all or participated');
      }
      const limit = parseLimit(query.get('limit'), DEFAULT_THREADS_LIMIT, MAX_THREADS_LIMIT);
      if (limit === 0) throw MatrixError.invalidParam('limit must be greater than zero');
      const from = parseToken(query, 'from');
      const view = await roomView(rooms, roomId, user.userId);
      const page = await relations.threadRoots({
        roomId,
        userId: user.userId,
        participated: include === 'participated',
        before: from ?? Number.MAX_SAFE_INTEGER,
        bound: view.bound,
        limit,
        current: view.joined,
      });
      const found = await rooms.getEvents(page.rootIds);
      const roots = page.rootIds.flatMap((id) => found.get(id) ?? []);
      const visible = await filterEventsForUser(rooms.ctx.db, roomId, user.userId, roots);
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      return {
        chunk: await relations.clientEvents(roomId, viewer, visible, view.bound),
        ...(page.next !== undefined ? { next_batch: roomToken(page.next) } : {}),
      };
    },
  });
}
