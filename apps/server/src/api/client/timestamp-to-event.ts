// GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1roomsroomidtimestamp_to_event
//
// The closest event the viewer may see at or after (`f`) / at or before (`b`) `ts`, by the same
// rules as `/messages`: the viewer's window of the room (visibility.ts, 403 for a room they may
// not read at all) and each event's own history visibility (event-visibility.ts). Events this
// server does not have are not asked of other servers.
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { filterEventsForUser } from '../../services/rooms/event-visibility.ts';
import { eventByTimestamp } from '../../services/rooms/timestamp.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** The `ts` and `dir` query parameters of both timestamp endpoints. */
export function parseTimestampQuery(query: URLSearchParams): { ts: number; dir: 'f' | 'b' } {
  const rawTs = query.get('ts');
  const dir = query.get('dir');
  if (rawTs === null) throw MatrixError.missingParam('ts is required');
  if (dir === null) throw MatrixError.missingParam('dir is required');
  const ts = Number(rawTs);
  if (rawTs === '' || !Number.isSafeInteger(ts))
    throw MatrixError.invalidParam('ts must be an integer');
  if (dir !== 'f' && dir !== 'b') throw MatrixError.invalidParam('dir must be f or b');
  return { ts, dir };
}

export function registerTimestampToEvent(app: ClientApp, services: Services): void {
  const { rooms } = services;
  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/timestamp_to_event',
    auth: 'user',
    versions: ['v1'],
    handler: async ({ params, query, user }) => {
      const roomId = parseRoomId(params.roomId);
      const { ts, dir } = parseTimestampQuery(query);
      const view = await roomView(rooms, roomId, user.userId);
      const event = await eventByTimestamp(rooms, {
        roomId,
        ts,
        dir,
        bound: view.bound,
        visible: (events) => filterEventsForUser(rooms.ctx.db, roomId, user.userId, events),
      });
      if (event === undefined) {
        throw MatrixError.notFound(
          `Unable to find event from ${ts} in ${dir === 'f' ? 'forward' : 'backward'} direction`,
        );
      }
      return { event_id: event.eventId, origin_server_ts: event.originServerTs };
    },
  });
}
