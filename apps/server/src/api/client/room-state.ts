// GET/PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (stateKey may be empty),
// GET /_matrix/client/v3/rooms/{roomId}/state
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstateeventtypestatekey
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3roomsroomidstateeventtypestatekey
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3roomsroomidstate
import { stateKeyOf } from '@weft/dag';
import { jsonResponse, MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { resolveAlias } from '../../services/rooms/directory.ts';
import { roomView } from '../../services/rooms/visibility.ts';
import { parseRoomAlias, parseRoomId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomState(app: ClientApp, services: Services): void {
  const { rooms } = services;

  /** The state the viewer sees: current if joined, else the state when they left. */
  const visibleState = async (roomId: string, userId: string) => {
    const view = await roomView(rooms, roomId, userId);
    return view.joined ? rooms.currentState(roomId) : rooms.stateAtPosition(roomId, view.bound);
  };

  const getOne = async (
    roomId: string,
    userId: string,
    type: string,
    stateKey: string,
    format: string | null,
  ) => {
    const state = await visibleState(parseRoomId(roomId), userId);
    const eventId = state.get(stateKeyOf(type, stateKey));
    const event = eventId === undefined ? undefined : await rooms.getEvent(eventId);
    if (event === undefined) throw MatrixError.notFound('Event not found');
    const client = rooms.clientEvent(event);
    // Spec: `format=event` returns the whole event, the default only its content.
    return format === 'event' ? client : (client['content'] as Record<string, unknown>);
  };

  const put = async (
    roomId: string,
    user: { userId: string; deviceId: string },
    type: string,
    stateKey: string,
    content: Record<string, unknown>,
  ) => {
    const id = parseRoomId(roomId);
    if (type === 'm.room.canonical_alias' && stateKey === '') await checkAliases(id, content);
    const eventId = await rooms.write(async (send) => {
      return (await send({ roomId: id, type, stateKey, sender: user.userId, content })).eventId;
    });
    return { event_id: eventId };
  };

  /**
   * Spec "m.room.canonical_alias" and `PUT /rooms/{roomId}/state/{eventType}/{stateKey}` (400):
   * an `alias` or `alt_aliases` entry that is not a valid room alias (appendices "Room Aliases")
   * is refused with M_INVALID_PARAM, and one of this server's own that does not point to this
   * room with M_BAD_ALIAS.
   */
  const checkAliases = async (roomId: string, content: Record<string, unknown>) => {
    const alt = content['alt_aliases'];
    if (alt !== undefined && (!Array.isArray(alt) || !alt.every((a) => typeof a === 'string'))) {
      throw MatrixError.badJson('alt_aliases must be a list of strings');
    }
    const alias = content['alias'];
    if (alias !== undefined && alias !== null && typeof alias !== 'string') {
      throw MatrixError.badJson('alias must be a string');
    }
    // An empty `alias` clears the canonical alias, as Synapse and clients treat it.
    if (typeof alias === 'string' && alias !== '') parseRoomAlias(alias);
    for (const entry of (alt ?? []) as string[]) parseRoomAlias(entry);
    const suffix = `:${services.ctx.config.serverName}`;
    for (const candidate of [
      ...(typeof alias === 'string' ? [alias] : []),
      ...((alt ?? []) as string[]),
    ]) {
      if (!candidate.endsWith(suffix)) continue;
      if ((await resolveAlias(rooms, candidate)) !== roomId) {
        throw new MatrixError(400, 'M_BAD_ALIAS', `${candidate} does not point to this room`);
      }
    }
  };

  for (const suffix of ['/:stateKey', '', '/'] as const) {
    const path = `/rooms/:roomId/state/:eventType${suffix}` as const;
    clientEndpoint(app, {
      method: 'GET',
      path,
      auth: 'user',
      handler: ({ params, user, query }) =>
        getOne(
          params.roomId,
          user.userId,
          params.eventType,
          'stateKey' in params ? String(params.stateKey) : '',
          query.get('format'),
        ),
    });
    clientEndpoint(app, {
      method: 'PUT',
      path,
      auth: 'user',
      rateLimit: true,
      handler: ({ params, user, body }) =>
        put(
          params.roomId,
          user,
          params.eventType,
          'stateKey' in params ? String(params.stateKey) : '',
          body,
        ),
    });
  }

  clientEndpoint(app, {
    method: 'GET',
    path: '/rooms/:roomId/state',
    auth: 'user',
    handler: async ({ params, user }) => {
      const state = await visibleState(parseRoomId(params.roomId), user.userId);
      const events = await rooms.stateEvents(state);
      return jsonResponse(events.map((event) => rooms.clientEvent(event)));
    },
  });
}
