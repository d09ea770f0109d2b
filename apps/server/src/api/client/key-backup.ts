// POST   /_matrix/client/v3/room_keys/version
// GET    /_matrix/client/v3/room_keys/version
// GET, PUT, DELETE /_matrix/client/v3/room_keys/version/{version}
// GET, PUT, DELETE /_matrix/client/v3/room_keys/keys[/{roomId}[/{sessionId}]]?version=…
// https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { KeyBackupData, SessionUpload } from '../../services/key-backup/service.ts';
import { isObject, optionalString, parseRoomId, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** `algorithm` and `auth_data` of a version body (POST and PUT). */
interface VersionBody {
  readonly algorithm: string;
  readonly authData: Record<string, unknown>;
  /** PUT only: must name the version of the path when present. */
  readonly version: string | undefined;
}

function parseVersionBody(json: Record<string, unknown>): VersionBody {
  const algorithm = requiredString(json, 'algorithm');
  if (algorithm === '') throw MatrixError.badJson('algorithm must not be empty');
  const authData = json['auth_data'];
  if (!isObject(authData)) throw MatrixError.badJson('auth_data must be an object');
  return { algorithm, authData, version: optionalString(json, 'version') };
}

/** A non-negative integer field of `KeyBackupData`. */
function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw MatrixError.badJson(`${field} must be a non-negative integer`);
  }
  return value;
}

/** `KeyBackupData` (definitions/key_backup_data.yaml): all four fields required. */
function parseKeyData(value: unknown): KeyBackupData {
  if (!isObject(value)) throw MatrixError.badJson('key data must be an object');
  const isVerified = value['is_verified'];
  if (typeof isVerified !== 'boolean') throw MatrixError.badJson('is_verified must be a boolean');
  const sessionData = value['session_data'];
  if (!isObject(sessionData)) throw MatrixError.badJson('session_data must be an object');
  return {
    first_message_index: count(value['first_message_index'], 'first_message_index'),
    forwarded_count: count(value['forwarded_count'], 'forwarded_count'),
    is_verified: isVerified,
    session_data: sessionData,
  };
}

function checkSessionId(sessionId: string): string {
  if (sessionId === '') throw MatrixError.invalidParam('A session ID must not be empty');
  return sessionId;
}

/** One room's sessions of an upload, before the room is known. */
type RoomUpload = readonly { readonly sessionId: string; readonly data: KeyBackupData }[];

/** `RoomKeyBackup` (definitions/room_key_backup.yaml). */
function parseRoomBackup(value: unknown): RoomUpload {
  if (!isObject(value)) throw MatrixError.badJson('room key backup must be an object');
  const sessions = value['sessions'];
  if (!isObject(sessions)) throw MatrixError.badJson('sessions must be an object');
  return Object.entries(sessions).map(([sessionId, data]) => ({
    sessionId: checkSessionId(sessionId),
    data: parseKeyData(data),
  }));
}

function inRoom(roomId: string, sessions: RoomUpload): SessionUpload[] {
  return sessions.map(({ sessionId, data }) => ({ roomId, sessionId, data }));
}

/** The body of `PUT /room_keys/keys`: `rooms`, room ID → `RoomKeyBackup`. */
function parseAllRooms(json: Record<string, unknown>): SessionUpload[] {
  const rooms = json['rooms'];
  if (!isObject(rooms)) throw MatrixError.badJson('rooms must be an object');
  return Object.entries(rooms).flatMap(([roomId, backup]) =>
    inRoom(parseRoomId(roomId), parseRoomBackup(backup)),
  );
}

/** The required `version` query parameter of the `/room_keys/keys` endpoints. */
function versionParam(query: URLSearchParams): string {
  const version = query.get('version');
  if (version === null) throw MatrixError.missingParam('version is required');
  return version;
}

export function registerKeyBackup(app: ClientApp, services: Services): void {
  const { keyBackup } = services;

  clientEndpoint(app, {
    method: 'POST',
    path: '/room_keys/version',
    auth: 'user',
    rateLimit: true,
    parseBody: parseVersionBody,
    handler: async ({ user, body }) => ({
      version: await keyBackup.createVersion(user.userId, body.algorithm, body.authData),
    }),
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_keys/version',
    auth: 'user',
    handler: async ({ user }) => {
      const info = await keyBackup.currentVersion(user.userId);
      if (info === undefined) throw MatrixError.notFound('No current backup version');
      return info;
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_keys/version/:version',
    auth: 'user',
    handler: async ({ user, params }) => {
      const info = await keyBackup.version(user.userId, params.version);
      if (info === undefined) throw MatrixError.notFound('Unknown backup version');
      return info;
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/room_keys/version/:version',
    auth: 'user',
    rateLimit: true,
    parseBody: parseVersionBody,
    handler: async ({ user, params, body }) => {
      await keyBackup.updateVersion(
        user.userId,
        params.version,
        body.algorithm,
        body.authData,
        body.version,
      );
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/room_keys/version/:version',
    auth: 'user',
    handler: async ({ user, params }) => {
      await keyBackup.deleteVersion(user.userId, params.version);
      return {};
    },
  });

  clientEndpoint(app, {
    method: 'PUT',
    path: '/room_keys/keys',
    auth: 'user',
    parseBody: parseAllRooms,
    handler: ({ user, query, body }) =>
      keyBackup.uploadKeys(user.userId, versionParam(query), body),
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_keys/keys',
    auth: 'user',
    handler: async ({ user, query }) => ({
      rooms: await keyBackup.allKeys(user.userId, versionParam(query)),
    }),
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/room_keys/keys',
    auth: 'user',
    handler: ({ user, query }) => keyBackup.deleteKeys(user.userId, versionParam(query)),
  });

  clientEndpoint(app, {
    method: 'PUT',
    path: '/room_keys/keys/:roomId',
    auth: 'user',
    parseBody: parseRoomBackup,
    handler: ({ user, params, query, body }) => {
      const roomId = parseRoomId(params.roomId);
      return keyBackup.uploadKeys(user.userId, versionParam(query), inRoom(roomId, body));
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_keys/keys/:roomId',
    auth: 'user',
    handler: async ({ user, params, query }) => {
      const roomId = parseRoomId(params.roomId);
      return { sessions: await keyBackup.roomKeys(user.userId, versionParam(query), roomId) };
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/room_keys/keys/:roomId',
    auth: 'user',
    handler: ({ user, params, query }) => {
      const roomId = parseRoomId(params.roomId);
      return keyBackup.deleteKeys(user.userId, versionParam(query), roomId);
    },
  });

  clientEndpoint(app, {
    method: 'PUT',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'user',
    parseBody: parseKeyData,
    handler: ({ user, params, query, body }) => {
      const roomId = parseRoomId(params.roomId);
      const sessionId = checkSessionId(params.sessionId);
      return keyBackup.uploadKeys(user.userId, versionParam(query), [
        { roomId, sessionId, data: body },
      ]);
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'user',
    handler: async ({ user, params, query }) => {
      const roomId = parseRoomId(params.roomId);
      const sessionId = checkSessionId(params.sessionId);
      const key = await keyBackup.sessionKey(user.userId, versionParam(query), roomId, sessionId);
      if (key === undefined) throw MatrixError.notFound('Key not found');
      return key;
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/room_keys/keys/:roomId/:sessionId',
    auth: 'user',
    handler: ({ user, params, query }) => {
      const roomId = parseRoomId(params.roomId);
      const sessionId = checkSessionId(params.sessionId);
      return keyBackup.deleteKeys(user.userId, versionParam(query), roomId, sessionId);
    },
  });
}
