// POST /_matrix/client/v3/createRoom
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3createroom
import { MatrixError } from '@weft/transport';
import type { Services } from '../../services/index.ts';
import {
  type CreateRoomOptions,
  createRoom,
  type RoomPreset,
} from '../../services/rooms/create-room.ts';
import { isObject, optionalString, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

const PRESETS: readonly RoomPreset[] = ['private_chat', 'public_chat', 'trusted_private_chat'];

export function registerCreateRoom(app: ClientApp, services: Services): void {
  const { rooms } = services;
  const serverName = services.ctx.config.serverName;
  clientEndpoint(app, {
    method: 'POST',
    path: '/createRoom',
    auth: 'user',
    rateLimit: true,
    handler: async ({ body, user }) => {
      const preset = optionalString(body, 'preset');
      if (preset !== undefined && !PRESETS.includes(preset as RoomPreset)) {
        throw MatrixError.badJson(
          'preset must be private_chat, public_chat or trusted_private_chat',
        );
      }
      const visibility = optionalString(body, 'visibility');
      if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') {
        throw MatrixError.badJson('visibility must be public or private');
      }
      const roomVersion = optionalString(body, 'room_version');
      const aliasName = optionalString(body, 'room_alias_name');
      let alias: string | undefined;
      if (aliasName !== undefined) {
        alias = `#${aliasName}:${serverName}`;
        if (/[:\s#]/.test(aliasName) || aliasName === '' || alias.length > 255) {
          throw new MatrixError(400, 'M_INVALID_PARAM', 'Invalid room_alias_name');
        }
        const existing = await services.ctx.db.queryOne(
          'SELECT 1 AS one FROM room_aliases WHERE room_alias = $1',
          [alias],
        );
        if (existing !== undefined)
          throw new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
      }
      const invite = body['invite'];
      if (
        invite !== undefined &&
        (!Array.isArray(invite) || !invite.every((u) => typeof u === 'string'))
      ) {
        throw MatrixError.badJson('invite must be a list of user IDs');
      }
      const invitees = ((invite ?? []) as string[]).map((u) => parseUserId(u, 'invite'));
      const initialState = body['initial_state'];
      if (initialState !== undefined && !Array.isArray(initialState)) {
        throw MatrixError.badJson('initial_state must be a list');
      }
      const parsedInitial = ((initialState ?? []) as unknown[]).map((entry) => {
        if (!isObject(entry) || typeof entry['type'] !== 'string' || !isObject(entry['content'])) {
          throw MatrixError.badJson('initial_state entries need type and content');
        }
        const stateKey = entry['state_key'] ?? '';
        if (typeof stateKey !== 'string') throw MatrixError.badJson('state_key must be a string');
        return { type: entry['type'], stateKey, content: entry['content'] };
      });
      for (const key of ['creation_content', 'power_level_content_override'] as const) {
        if (body[key] !== undefined && !isObject(body[key])) {
          throw MatrixError.badJson(`${key} must be an object`);
        }
      }
      const isDirect = body['is_direct'];
      if (isDirect !== undefined && typeof isDirect !== 'boolean') {
        throw MatrixError.badJson('is_direct must be a boolean');
      }
      const name = optionalString(body, 'name');
      const topic = optionalString(body, 'topic');
      const options: CreateRoomOptions = {
        creator: user.userId,
        creatorDevice: user.deviceId,
        ...(roomVersion !== undefined ? { roomVersion } : {}),
        ...(preset !== undefined ? { preset: preset as RoomPreset } : {}),
        ...(visibility !== undefined ? { visibility } : {}),
        ...(name !== undefined ? { name } : {}),
        ...(topic !== undefined ? { topic } : {}),
        ...(alias !== undefined ? { alias } : {}),
        invite: invitees,
        isRemote: (userId) => services.federationQueries.isRemote(userId),
        ...(isDirect !== undefined ? { isDirect } : {}),
        ...(isObject(body['creation_content'])
          ? { creationContent: body['creation_content'] }
          : {}),
        initialState: parsedInitial,
        ...(isObject(body['power_level_content_override'])
          ? { powerLevelOverride: body['power_level_content_override'] }
          : {}),
      };
      const roomId = await createRoom(rooms, options);
      // Invitees of other servers are invited as POST /invite does, once the room is committed:
      // their server must sign the invite first (server-server-api "Inviting to a room"). The
      // room exists whatever they answer, so a refusal is logged, not returned.
      for (const target of new Set(invitees)) {
        if (target === user.userId || !services.federationQueries.isRemote(target)) continue;
        try {
          await services.federationMembership.inviteRemote({
            roomId,
            sender: user.userId,
            target,
            ...(isDirect === true ? { isDirect: true } : {}),
          });
        } catch (error) {
          services.ctx.log.warn('createRoom: a remote invite failed', {
            roomId,
            target,
            error: (error as Error).message,
          });
        }
      }
      return { room_id: roomId };
    },
  });
}
