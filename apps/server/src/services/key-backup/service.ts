/**
 * Server-side key backups (client-server-api "Server-side key backups",
 * https://spec.matrix.org/v1.19/client-server-api/#server-side-key-backups): a user's encrypted
 * room keys, stored in backup versions the server numbers per user (`"1"`, `"2"`, …). The current
 * version is the highest one not deleted; keys are only uploaded to it. A version's `etag`
 * changes whenever its keys do, and `count` is how many it holds. The server never reads
 * `auth_data` or `session_data`: they are stored as the client sent them.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { AccountService } from '../accounts/service.ts';
import type { ServerContext } from '../core/context.ts';
import {
  type BackupSessionRow,
  type BackupVersionRow,
  deleteSessions,
  insertVersion,
  markVersionDeleted,
  type SessionWrite,
  selectCurrentVersion,
  selectMaxVersion,
  selectSessionMetas,
  selectSessions,
  selectVersion,
  updateAuthData,
  updateVersionKeys,
  upsertSessions,
} from './store.ts';

/** `KeyBackupData`: one backed-up session key and its metadata. */
export type KeyBackupData = {
  readonly first_message_index: number;
  readonly forwarded_count: number;
  readonly is_verified: boolean;
  readonly session_data: Record<string, unknown>;
};

/** One session key of an upload. */
export type SessionUpload = {
  readonly roomId: string;
  readonly sessionId: string;
  readonly data: KeyBackupData;
};

/** What `GET /room_keys/version[/{version}]` answers. */
export type BackupVersionInfo = {
  readonly algorithm: string;
  readonly auth_data: Record<string, unknown>;
  readonly count: number;
  readonly etag: string;
  readonly version: string;
};

/** `RoomKeysUpdateResponse`: the version's keys after a change. */
export type KeysUpdate = {
  readonly etag: string;
  readonly count: number;
};

/** `{ sessionId: KeyBackupData }` of one room. */
export type RoomSessions = Record<string, KeyBackupData>;

/**
 * A version string as this server hands them out: a positive decimal integer without leading
 * zeros. Anything else names no version of this server.
 */
function versionNumber(raw: string): number | undefined {
  return /^[1-9][0-9]{0,14}$/.test(raw) ? Number(raw) : undefined;
}

function unknownVersion(): MatrixError {
  return MatrixError.notFound('Unknown backup version');
}

function infoOf(row: BackupVersionRow): BackupVersionInfo {
  return {
    algorithm: row.algorithm,
    auth_data: parseAnyJson(row.auth_data) as Record<string, unknown>,
    count: Number(row.key_count),
    etag: String(row.etag),
    version: String(row.version),
  };
}

function dataOf(row: BackupSessionRow): KeyBackupData {
  return {
    first_message_index: Number(row.first_message_index),
    forwarded_count: Number(row.forwarded_count),
    is_verified: Number(row.is_verified) === 1,
    session_data: parseAnyJson(row.session_data) as Record<string, unknown>,
  };
}

/**
 * The spec's rule for a key the backup already holds for the same session ("Server-side key
 * backups"): keep the verified one; if both or neither are, the one with the lower
 * `first_message_index`; if those are equal, the one with the lower `forwarded_count`. A key
 * equal in all three keeps what is stored.
 */
function replacesStored(
  stored: {
    readonly isVerified: boolean;
    readonly firstMessageIndex: number;
    readonly forwardedCount: number;
  },
  upload: KeyBackupData,
): boolean {
  if (stored.isVerified !== upload.is_verified) return upload.is_verified;
  if (stored.firstMessageIndex !== upload.first_message_index) {
    return upload.first_message_index < stored.firstMessageIndex;
  }
  return upload.forwarded_count < stored.forwardedCount;
}

export class KeyBackupService {
  readonly #ctx: ServerContext;

  /** `accounts`: a deactivated user's backups (versions and keys) go with the deactivation. */
  constructor(ctx: ServerContext, accounts?: AccountService) {
    this.#ctx = ctx;
    accounts?.onDeactivate(async (tx, userId) => {
      await tx.execute('DELETE FROM key_backup_sessions WHERE user_id = $1', [userId]);
      await tx.execute('DELETE FROM key_backup_versions WHERE user_id = $1', [userId]);
    });
  }

  /** Creates a backup version, which becomes the current one; returns its version string. */
  async createVersion(
    userId: string,
    algorithm: string,
    authData: Record<string, unknown>,
  ): Promise<string> {
    const json = JSON.stringify(authData);
    return this.#ctx.db.transaction(async (tx) => {
      const version = (await selectMaxVersion(tx, userId)) + 1;
      await insertVersion(tx, userId, version, algorithm, json);
      return String(version);
    });
  }

  /** The current backup version, or `undefined` when the user has none. */
  async currentVersion(userId: string): Promise<BackupVersionInfo | undefined> {
    const row = await selectCurrentVersion(this.#ctx.db, userId);
    return row === undefined ? undefined : infoOf(row);
  }

  /** A backup version by its string; `undefined` when unknown or deleted. */
  async version(userId: string, rawVersion: string): Promise<BackupVersionInfo | undefined> {
    const row = await this.#liveVersion(this.#ctx.db, userId, rawVersion);
    return row === undefined ? undefined : infoOf(row);
  }

  /**
   * Replaces a version's `auth_data`. 400 `M_INVALID_PARAM` when `bodyVersion` is given and is
   * not `rawVersion`, or `algorithm` is not the version's; 404 `M_NOT_FOUND` for an unknown or
   * deleted version.
   */
  async updateVersion(
    userId: string,
    rawVersion: string,
    algorithm: string,
    authData: Record<string, unknown>,
    bodyVersion: string | undefined,
  ): Promise<void> {
    if (bodyVersion !== undefined && bodyVersion !== rawVersion) {
      throw MatrixError.invalidParam('version in the body does not match the path');
    }
    const json = JSON.stringify(authData);
    await this.#ctx.db.transaction(async (tx) => {
      const row = await this.#liveVersion(tx, userId, rawVersion);
      if (row === undefined) throw unknownVersion();
      if (row.algorithm !== algorithm) throw MatrixError.invalidParam('Algorithm does not match');
      await updateAuthData(tx, userId, Number(row.version), json);
    });
  }

  /**
   * Deletes a version and every key in it. Deleting a deleted version succeeds; a version that
   * never existed is 404 `M_NOT_FOUND`.
   */
  async deleteVersion(userId: string, rawVersion: string): Promise<void> {
    const version = versionNumber(rawVersion);
    if (version === undefined) throw unknownVersion();
    await this.#ctx.db.transaction(async (tx) => {
      const row = await selectVersion(tx, userId, version);
      if (row === undefined) throw unknownVersion();
      if (Number(row.deleted) === 1) return;
      await deleteSessions(tx, userId, version);
      await markVersionDeleted(tx, userId, version);
    });
  }

  /**
   * Stores session keys in the current version, each replacing a stored key of its session
   * only as {@link replacesStored} says. 404 `M_NOT_FOUND` when the user has no backup; 403
   * `M_WRONG_ROOM_KEYS_VERSION` (with `current_version`) when `rawVersion` is not the current one.
   */
  async uploadKeys(
    userId: string,
    rawVersion: string,
    sessions: readonly SessionUpload[],
  ): Promise<KeysUpdate> {
    return this.#ctx.db.transaction(async (tx) => {
      const current = await selectCurrentVersion(tx, userId);
      if (current === undefined) throw unknownVersion();
      const version = Number(current.version);
      if (versionNumber(rawVersion) !== version) {
        throw new MatrixError(403, 'M_WRONG_ROOM_KEYS_VERSION', 'Wrong backup version', {
          extra: { current_version: String(version) },
        });
      }
      let count = Number(current.key_count);
      // The stored keys read at once; each upload is decided against the one before it of the
      // same session (if any), as if written in turn, and each session written once.
      const stored = await selectSessionMetas(tx, userId, version, sessions);
      const writes = new Map<string, Map<string, SessionWrite>>();
      for (const { roomId, sessionId, data } of sessions) {
        let storedInRoom = stored.get(roomId);
        const before = storedInRoom?.get(sessionId);
        if (before === undefined) count += 1;
        else if (
          !replacesStored(
            {
              isVerified: Number(before.is_verified) === 1,
              firstMessageIndex: Number(before.first_message_index),
              forwardedCount: Number(before.forwarded_count),
            },
            data,
          )
        ) {
          continue;
        }
        if (storedInRoom === undefined) {
          storedInRoom = new Map();
          stored.set(roomId, storedInRoom);
        }
        storedInRoom.set(sessionId, {
          first_message_index: data.first_message_index,
          forwarded_count: data.forwarded_count,
          is_verified: data.is_verified ? 1 : 0,
        });
        let writesInRoom = writes.get(roomId);
        if (writesInRoom === undefined) {
          writesInRoom = new Map();
          writes.set(roomId, writesInRoom);
        }
        writesInRoom.set(sessionId, {
          roomId,
          sessionId,
          firstMessageIndex: data.first_message_index,
          forwardedCount: data.forwarded_count,
          isVerified: data.is_verified,
          sessionData: JSON.stringify(data.session_data),
        });
      }
      const rows = [...writes.values()].flatMap((room) => [...room.values()]);
      await upsertSessions(tx, userId, version, rows);
      const changed = rows.length > 0;
      return this.#keysChanged(tx, userId, current, changed, count);
    });
  }

  /** Every key of a version, by room. 404 `M_NOT_FOUND` for an unknown or deleted version. */
  async allKeys(
    userId: string,
    rawVersion: string,
  ): Promise<Record<string, { sessions: RoomSessions }>> {
    const version = await this.#requireVersion(userId, rawVersion);
    const rooms: Record<string, { sessions: RoomSessions }> = Object.create(null);
    for (const row of await selectSessions(this.#ctx.db, userId, version)) {
      let room = rooms[row.room_id];
      if (room === undefined) {
        room = { sessions: Object.create(null) as RoomSessions };
        rooms[row.room_id] = room;
      }
      room.sessions[row.session_id] = dataOf(row);
    }
    return rooms;
  }

  /** The keys of one room (`{}` when none). 404 `M_NOT_FOUND` for an unknown or deleted version. */
  async roomKeys(userId: string, rawVersion: string, roomId: string): Promise<RoomSessions> {
    const version = await this.#requireVersion(userId, rawVersion);
    const sessions: RoomSessions = Object.create(null);
    for (const row of await selectSessions(this.#ctx.db, userId, version, roomId)) {
      sessions[row.session_id] = dataOf(row);
    }
    return sessions;
  }

  /**
   * The key of one session, or `undefined` when the version holds none. 404 `M_NOT_FOUND` for
   * an unknown or deleted version.
   */
  async sessionKey(
    userId: string,
    rawVersion: string,
    roomId: string,
    sessionId: string,
  ): Promise<KeyBackupData | undefined> {
    const version = await this.#requireVersion(userId, rawVersion);
    const [row] = await selectSessions(this.#ctx.db, userId, version, roomId, sessionId);
    return row === undefined ? undefined : dataOf(row);
  }

  /**
   * Deletes keys of a version (any version not deleted, not only the current one): all of them,
   * of one room, or one session. 404 `M_NOT_FOUND` for an unknown or deleted version.
   */
  async deleteKeys(
    userId: string,
    rawVersion: string,
    roomId?: string,
    sessionId?: string,
  ): Promise<KeysUpdate> {
    return this.#ctx.db.transaction(async (tx) => {
      const row = await this.#liveVersion(tx, userId, rawVersion);
      if (row === undefined) throw unknownVersion();
      const version = Number(row.version);
      const removed = await deleteSessions(tx, userId, version, roomId, sessionId);
      return this.#keysChanged(tx, userId, row, removed > 0, Number(row.key_count) - removed);
    });
  }

  /** Records a version's new key count and, when its keys changed, a new etag. */
  async #keysChanged(
    tx: SqlExecutor,
    userId: string,
    row: BackupVersionRow,
    changed: boolean,
    count: number,
  ): Promise<KeysUpdate> {
    const etag = Number(row.etag) + (changed ? 1 : 0);
    if (changed) await updateVersionKeys(tx, userId, Number(row.version), etag, count);
    return { etag: String(etag), count };
  }

  async #requireVersion(userId: string, rawVersion: string): Promise<number> {
    const row = await this.#liveVersion(this.#ctx.db, userId, rawVersion);
    if (row === undefined) throw unknownVersion();
    return Number(row.version);
  }

  /** The row of a version that exists and is not deleted. */
  async #liveVersion(
    db: SqlExecutor,
    userId: string,
    rawVersion: string,
  ): Promise<BackupVersionRow | undefined> {
    const version = versionNumber(rawVersion);
    if (version === undefined) return undefined;
    const row = await selectVersion(db, userId, version);
    return row === undefined || Number(row.deleted) === 1 ? undefined : row;
  }
}
