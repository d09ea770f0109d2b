// POST /_matrix/client/v3/rooms/{roomId}/invite, …/leave, …/kick, …/ban, …/unban, …/forget
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidinvite
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidleave
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidkick
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidban
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidunban
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidforget
import type { Services } from '../../services/index.ts';
import { changeMembership, forgetRoom } from '../../services/rooms/membership.ts';
import { optionalString, parseRoomId, parseUserId, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

export function registerRoomMembership(app: ClientApp, services: Services): void {
  const { rooms } = services;
  const targeted = [
    ['invite', 'invite'],
    ['kick', 'leave'],
    ['ban', 'ban'],
    ['unban', 'leave'],
  ] as const;
  for (const [action, membership] of targeted) {
    clientEndpoint(app, {
      method: 'POST',
      path: `/rooms/:roomId/${action}`,
      auth: 'user',
      rateLimit: true,
      handler: async ({ params, body, user }) => {
        const isDirect = body['is_direct'];
        const roomId = parseRoomId(params.roomId);
        const target = parseUserId(requiredString(body, 'user_id'));
        const { federationMembership, federationQueries } = services;
        if (action === 'invite' && federationQueries.isRemote(target)) {
          // The invitee's server signs the invite first (federation "Inviting to a room").
          await federationMembership.inviteRemote({
            roomId,
            sender: user.userId,
            target,
            reason: optionalString(body, 'reason'),
            isDirect: isDirect === true,
          });
          return {};
        }
        await changeMembership(rooms, {
          roomId,
          sender: user.userId,
          target,
          membership,
          reason: optionalString(body, 'reason'),
          isDirect: isDirect === true,
          ...(action === 'unban' ? { expect: 'ban' as const } : {}),
          ...(action === 'kick' ? { expect: 'present' as const } : {}),
        });
        return {};
      },
    });
  }
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/leave',
    auth: 'user',
    // The spec makes the whole body optional; clients may send none.
    body: 'optional-json',
    handler: async ({ params, body, user }) => {
      const roomId = parseRoomId(params.roomId);
      if (await services.federationMembership.needsRemoteJoin(roomId)) {
        // Only a remote invite is known here: reject it through the inviting server.
        await services.federationMembership.rejectInvite(
          roomId,
          user.userId,
          optionalString(body, 'reason'),
        );
        return {};
      }
      await changeMembership(rooms, {
        roomId,
        sender: user.userId,
        target: user.userId,
        membership: 'leave',
        reason: optionalString(body, 'reason'),
      });
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/forget',
    auth: 'user',
    // The spec makes the whole body optional; clients may send none.
    body: 'optional-json',
    handler: async ({ params, user }) => {
      await forgetRoom(rooms, parseRoomId(params.roomId), user.userId);
      return {};
    },
  });
}
