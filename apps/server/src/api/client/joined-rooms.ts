// GET /_matrix/client/v3/joined_rooms
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3joined_rooms
import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerJoinedRooms(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/joined_rooms',
    auth: 'user',
    handler: async ({ user }) => {
      const memberships = await services.rooms.roomsForUser(user.userId);
      return {
        joined_rooms: memberships.filter((m) => m.membership === 'join').map((m) => m.roomId),
      };
    },
  });
}
