// GET /_matrix/client/v3/rooms/{roomId}/messages
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidmessages
import { stateKeyOf } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import { withoutIgnored } from '../../services/account-data/ignored-users.ts';
import type { Services } from '../../services/index.ts';
import { filterEventsForUser, stateEventsForUser } from '../../services/rooms/event-visibility.ts';
import type { RoomService, StoredEvent } from '../../services/rooms/index.ts';
import { paginate, parseRoomToken } from '../../services/rooms/timeline.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { parseRoomEventFilter } from './room-event-filter.ts';
import { parseLimit, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec "Lazy-loading room members": the member events of the senders of `events`, as of the
 * newest of them (an erased sender's as `viewer` is served them, event-visibility.ts
 * `stateEventsForUser`).
 */
export async function lazyMembers(
  rooms: RoomService,
  events: readonly StoredEvent[],
  viewer: string,
): Promise<StoredEvent[]> {
  const newest = events.reduce<StoredEvent | undefined>(
    (best, e) => ((e.streamPosition ?? 0) > (best?.streamPosition ?? -1) ? e : best),
    undefined,
  );
  if (newest === undefined) return [];
  const state = await rooms.stateAfterEvent(newest);
  const senders = new Set(events.map((e) => e.sender));
  senders.delete(viewer);
  const ids = [...senders].flatMap((s) => state.get(stateKeyOf('m.room.member', s)) ?? []);
  const members = [...(await rooms.getEvents(ids)).values()];
  return stateEventsForUser(rooms.ctx.db, newest.roomId, viewer, members);
}

export function registerMessages(app: ClientApp, services: Services): void {
  const { rooms, relations, accountData } = services;
  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/messages',
    auth: 'user',
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const dir = query.get('dir') ?? 'b';
      if (dir !== 'b' && dir !== 'f') throw MatrixError.invalidParam('dir must be b or f');
      const view = await roomView(rooms, roomId, user.userId);
      const parseToken = (name: string): number | undefined => {
        const raw = query.get(name);
        if (raw === null || raw === '') return undefined;
        const position = parseRoomToken(raw);
        if (position === undefined) throw MatrixError.invalidParam(`${name} is not a valid token`);
        return position;
      };
      // Spec: without `from`, paginate from the end (dir=b) or the start (dir=f) of the room.
      const from = parseToken('from') ?? (dir === 'b' ? view.bound : 0);
      const to = parseToken('to');
      const {
        filter,
        lazyLoadMembers,
        limit: filterLimit,
      } = parseRoomEventFilter(query.get('filter'));
      const limit = parseLimit(query.get('limit'), filterLimit ?? 10, 1000);
      const page = await paginate(rooms.ctx.db, rooms.events, roomId, {
        from,
        ...(to !== undefined ? { to } : {}),
        dir,
        limit,
        filter,
        bound: view.bound,
        floor: view.floor,
      });
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      // Each event's own history visibility decides (a page may come back shorter than `limit`);
      // messages of users the user ignores are left out (spec "Ignoring Users").
      const chunk = withoutIgnored(
        await filterEventsForUser(rooms.ctx.db, roomId, user.userId, page.chunk),
        accountData.ignoredUsers.of(user.userId),
      );
      const state = lazyLoadMembers ? await lazyMembers(rooms, chunk, user.userId) : [];
      return {
        // With their bundled aggregations (spec "Aggregations of child events").
        chunk: await relations.clientEvents(roomId, viewer, chunk, view.bound),
        start: page.start,
        ...(page.end !== undefined ? { end: page.end } : {}),
        ...(state.length > 0 ? { state: state.map((event) => rooms.clientEvent(event)) } : {}),
      };
    },
  });
}
