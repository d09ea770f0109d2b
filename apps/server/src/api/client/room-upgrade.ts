// POST /_matrix/client/v3/rooms/{roomId}/upgrade
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3roomsroomidupgrade
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { upgradeRoom } from '../../services/rooms/upgrade.ts';
import { parseRoomId, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Registers `POST /rooms/{roomId}/upgrade` (see services/rooms/upgrade.ts). */
export function registerRoomUpgrade(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'POST',
    path: '/rooms/:roomId/upgrade',
    auth: 'user',
    rateLimit: true,
    handler: async ({ params, body, user }) => {
      const roomId = parseRoomId(params.roomId);
      const newVersion = body['new_version'];
      if (typeof newVersion !== 'string') {
        throw MatrixError.badJson('new_version must be a string');
      }
      const additional = body['additional_creators'];
      if (
        additional !== undefined &&
        (!Array.isArray(additional) || !additional.every((u) => typeof u === 'string'))
      ) {
        throw MatrixError.badJson('additional_creators must be a list of user IDs');
      }
      const additionalCreators = (additional ?? []) as string[];
      for (const creator of additionalCreators) parseUserId(creator, 'additional_creators');
      const { federationMembership, federationQueries } = services;
      const upgraded = await upgradeRoom(services.rooms, {
        roomId,
        userId: user.userId,
        newVersion,
        additionalCreators,
        isRemote: (userId) => federationQueries.isRemote(userId),
      });
      // Additional creators of other servers are invited as POST /invite does, once the new
      // room is committed: their server must sign the invite first (server-server-api "Inviting
      // to a room"). The upgrade stands whatever they answer, so a refusal is logged.
      for (const target of upgraded.remoteInvitees) {
        try {
          await federationMembership.inviteRemote({
            roomId: upgraded.roomId,
            sender: user.userId,
            target,
          });
        } catch (error) {
          services.ctx.log.warn('upgrade: a remote invite failed', {
            roomId: upgraded.roomId,
            target,
            error: (error as Error).message,
          });
        }
      }
      return { replacement_room: upgraded.roomId };
    },
  });
}
