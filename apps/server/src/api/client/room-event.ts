// GET /_matrix/client/v3/rooms/{roomId}/event/{eventId},
// GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomideventeventid
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidcontexteventid
import { MatrixError } from '@weft/transport';

import { withoutIgnored } from '../../services/account-data/ignored-users.ts';
import type { Services } from '../../services/index.ts';
import { filterEventsForUser, stateEventsForUser } from '../../services/rooms/event-visibility.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import { paginate, roomToken } from '../../services/rooms/timeline.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { lazyMembers } from './messages.ts';
import { parseRoomEventFilter } from './room-event-filter.ts';
import { parseLimit, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomEvent(app: ClientApp, services: Services): void {
  const { rooms, relations } = services;

  /**
   * The event, if it is in the room and the viewer may see it; else 404 (no existence leak).
   * Spec `GET /rooms/{roomId}/event/{eventId}` and `/context/{eventId}` list only 404 M_NOT_FOUND,
   * "not found or you do not have permission to read this event": so too for a user who was never
   * in the room (whom `roomView` refuses with 403).
   */
  const visibleEvent = async (roomId: string, eventId: string, userId: string) => {
    const view = await roomView(rooms, roomId, userId).catch((error: unknown) => {
      if (error instanceof MatrixError && error.errcode === 'M_FORBIDDEN') {
        throw MatrixError.notFound('Event not found');
      }
      throw error;
    });
    const event = await rooms.getEvent(eventId);
    if (
      event === undefined ||
      event.roomId !== roomId ||
      event.streamPosition === null ||
      event.streamPosition > view.bound ||
      event.streamPosition <= view.floor
    ) {
      throw MatrixError.notFound('Event not found');
    }
    // The event as the user may see it: an erased sender's may come back redacted.
    const [shown] = await filterEventsForUser(rooms.ctx.db, roomId, userId, [event]);
    if (shown === undefined) throw MatrixError.notFound('Event not found');
    return { event: shown, view };
  };

  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/event/:eventId',
    auth: 'user',
    handler: async ({ params, user }) => {
      const roomId = parseRoomId(params.roomId);
      const { event, view } = await visibleEvent(roomId, params.eventId, user.userId);
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      // With its bundled aggregations (spec "Aggregations of child events").
      const [served] = await relations.clientEvents(roomId, viewer, [event], view.bound);
      return served ?? rooms.clientEvent(event, { viewer });
    },
  });

  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/context/:eventId',
    auth: 'user',
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const { event, view } = await visibleEvent(roomId, params.eventId, user.userId);
      const {
        filter,
        lazyLoadMembers,
        limit: filterLimit,
      } = parseRoomEventFilter(query.get('filter'));
      const limit = parseLimit(query.get('limit'), filterLimit ?? 10, 1000);
      // Spec: `limit` counts the context events on both sides together.
      const beforeLimit = Math.floor(limit / 2);
      const position = event.streamPosition ?? 0;
      const before = await paginate(rooms.ctx.db, rooms.events, roomId, {
        from: position - 1,
        dir: 'b',
        limit: beforeLimit,
        filter,
        bound: view.bound,
        floor: view.floor,
      });
      const after = await paginate(rooms.ctx.db, rooms.events, roomId, {
        from: position,
        dir: 'f',
        limit: limit - beforeLimit,
        filter,
        bound: view.bound,
        floor: view.floor,
      });
      const viewer = { userId: user.userId, deviceId: user.deviceId };
      // Messages of users the user ignores are left out around the event (spec "Ignoring Users").
      const ignored = services.accountData.ignoredUsers.of(user.userId);
      const visible = async (events: readonly StoredEvent[]) =>
        withoutIgnored(
          await filterEventsForUser(rooms.ctx.db, roomId, user.userId, events),
          ignored,
        );
      const eventsBefore = await visible(before.chunk);
      const eventsAfter = await visible(after.chunk);
      const last: StoredEvent = after.chunk.at(-1) ?? event;
      const stateMap = await rooms.stateAfterEvent(last);
      let stateEvents = await rooms.stateEvents(stateMap);
      if (lazyLoadMembers) {
        const members = new Set(
          (await lazyMembers(rooms, [...eventsBefore, event, ...eventsAfter], user.userId)).map(
            (e) => e.eventId,
          ),
        );
        stateEvents = stateEvents.filter(
          (e) => e.type !== 'm.room.member' || members.has(e.eventId),
        );
      }
      // With their bundled aggregations (spec "Aggregations of child events").
      const [served, ...around] = await relations.clientEvents(
        roomId,
        viewer,
        [event, ...eventsBefore, ...eventsAfter],
        view.bound,
      );
      return {
        event: served,
        events_before: around.slice(0, eventsBefore.length),
        events_after: around.slice(eventsBefore.length),
        start: before.end ?? roomToken(0),
        end: after.end ?? roomToken(last.streamPosition ?? position),
        // An erased user's member events as the timeline serves them (a later joiner gets them
        // redacted).
        state: (await stateEventsForUser(rooms.ctx.db, roomId, user.userId, stateEvents)).map((e) =>
          rooms.clientEvent(e),
        ),
      };
    },
  });
}
