// GET /_matrix/client/v3/rooms/{roomId}/members, GET /_matrix/client/v3/rooms/{roomId}/joined_members
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidmembers
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidjoined_members
import { parseStateKey } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { stateEventsForUser } from '../../services/rooms/event-visibility.ts';
import { parseRoomToken } from '../../services/rooms/timeline.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

const MEMBERSHIPS = new Set(['join', 'invite', 'knock', 'leave', 'ban']);

export function registerMembers(app: ClientApp, services: Services): void {
  const { rooms } = services;
  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/members',
    auth: 'user',
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const view = await roomView(rooms, roomId, user.userId);
      const membership = query.get('membership');
      const notMembership = query.get('not_membership');
      for (const value of [membership, notMembership]) {
        if (value !== null && !MEMBERSHIPS.has(value)) {
          throw MatrixError.invalidParam('membership must be join, invite, knock, leave or ban');
        }
      }
      let position = view.bound;
      const at = query.get('at');
      if (at !== null) {
        const parsed = parseRoomToken(at);
        if (parsed === undefined) throw MatrixError.invalidParam('at is not a valid token');
        // Never a state from outside what the viewer may see (history visibility).
        position = Math.max(Math.min(parsed, view.bound), view.floor + 1);
      }
      const state =
        view.joined && at === null
          ? await rooms.currentState(roomId)
          : await rooms.stateAtPosition(roomId, position);
      const memberIds = [...state].flatMap(([key, id]) =>
        parseStateKey(key).type === 'm.room.member' ? [id] : [],
      );
      // An erased user's member events as the timeline serves them (redacted for a later joiner).
      const members = await stateEventsForUser(rooms.ctx.db, roomId, user.userId, [
        ...(await rooms.getEvents(memberIds)).values(),
      ]);
      const events = members.filter((event) => {
        const value = (event.pdu['content'] as Record<string, unknown>)['membership'];
        if (membership !== null && value !== membership) return false;
        if (notMembership !== null && value === notMembership) return false;
        return true;
      });
      return { chunk: events.map((event) => rooms.clientEvent(event)) };
    },
  });

  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/joined_members',
    auth: 'user',
    handler: async ({ params, user }) => {
      const roomId = parseRoomId(params.roomId);
      const view = await roomView(rooms, roomId, user.userId);
      if (!view.joined) throw MatrixError.forbidden('You are not joined to this room');
      const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
      for (const userId of await rooms.members(roomId, 'join')) {
        const event = await rooms.currentStateEvent(roomId, 'm.room.member', userId);
        const content = (event?.pdu['content'] ?? {}) as Record<string, unknown>;
        joined[userId] = {
          ...(typeof content['displayname'] === 'string'
            ? { display_name: content['displayname'] }
            : {}),
          ...(typeof content['avatar_url'] === 'string'
            ? { avatar_url: content['avatar_url'] }
            : {}),
        };
      }
      return { joined };
    },
  });
}
