/**
 * Accounts: users, devices and access tokens (spec client-server-api "Account registration",
 * "Login", "Device management"). Registration and login create a device and a token in one
 * transaction. Other services learn of new and removed devices through `onDeviceChange`.
 */
import { randomBytes } from 'node:crypto';

import { MatrixError } from '@weft/transport';

import { type SqlExecutor, StorageError } from '../../storage/index.ts';
import type { AuthenticatedUser, ServerContext } from '../core/context.ts';
import { recordErasure } from '../rooms/erased-senders.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { AccessTokenCache } from './token-cache.ts';
import {
  findAccessToken,
  hashAccessToken,
  issueAccessToken,
  lastSeenIsStale,
  touchDevice,
} from './tokens.ts';

/** Spec "User Identifiers": the localpart grammar for new users. */
const LOCALPART = /^[a-z0-9._=\-/+]+$/;

/** 403 `M_FORBIDDEN` for a wrong user or password at login (not for any other refusal). */
export class InvalidLoginError extends MatrixError {
  constructor() {
    super(403, 'M_FORBIDDEN', 'Invalid username or password');
  }
}

export interface LoginResult {
  readonly userId: string;
  readonly deviceId: string;
  readonly accessToken: string;
}

export type DeviceChange = {
  readonly userId: string;
  readonly deviceId: string;
  readonly change: 'added' | 'removed';
};

/** Called inside the transaction that adds or removes a device. */
export type DeviceChangeListener = (tx: SqlExecutor, change: DeviceChange) => Promise<void>;

/** Told of a user's deactivation inside its transaction (their data kept elsewhere goes). */
export type DeactivationListener = (tx: SqlExecutor, userId: string) => Promise<void>;

/** A device as the device-management endpoints return it (absent fields omitted). */
export interface DeviceInfo {
  readonly device_id: string;
  readonly display_name?: string;
  readonly last_seen_ts?: number;
  readonly last_seen_ip?: string;
}

type DeviceRow = {
  readonly device_id: string;
  readonly display_name: string | null;
  readonly last_seen_ts: number | null;
  readonly last_seen_ip: string | null;
};

function toDeviceInfo(row: DeviceRow): DeviceInfo {
  return {
    device_id: row.device_id,
    ...(row.display_name !== null ? { display_name: row.display_name } : {}),
    ...(row.last_seen_ts !== null ? { last_seen_ts: Number(row.last_seen_ts) } : {}),
    ...(row.last_seen_ip !== null ? { last_seen_ip: row.last_seen_ip } : {}),
  };
}

/**
 * What an erasing deactivation (spec account_deactivation.yaml `erase`) deletes beyond what every
 * deactivation does (devices with their keys, tokens, password, key backups, displayname and
 * avatar): global and room account data (tags, read markers, ignored users included), the
 * cross-signing keys and every signature made by or for the user, the profile row, stored
 * filters, push rules and pushers. Each statement takes the user ID as `$1`.
 */
const ERASED_USER_DATA: readonly string[] = [
  'DELETE FROM account_data WHERE user_id = $1',
  'DELETE FROM e2e_cross_signing_keys WHERE user_id = $1',
  'DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = $1 OR signer_user_id = $1',
  'DELETE FROM profiles WHERE user_id = $1',
  'DELETE FROM filters WHERE user_id = $1',
  'DELETE FROM push_rules WHERE user_id = $1',
  'DELETE FROM push_rule_overrides WHERE user_id = $1',
  'DELETE FROM pushers WHERE user_id = $1',
];

export class AccountService {
  readonly #ctx: ServerContext;
  readonly #deviceListeners: DeviceChangeListener[] = [];
  readonly #deactivationListeners: DeactivationListener[] = [];
  readonly #tokens = new AccessTokenCache();
  #dummy: Promise<string> | undefined;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /**
   * The user and device an access token belongs to, or `undefined` for an unknown token (spec
   * "Using access tokens"). Answered from memory after the first request; refreshes the device's
   * `last_seen_ts` at most every `LAST_SEEN_INTERVAL_MS`.
   */
  authenticate(
    token: string,
  ): AuthenticatedUser | undefined | Promise<AuthenticatedUser | undefined> {
    // Kept by hash, so that the cache holds no usable token (decision record of 06:20).
    const tokenHash = hashAccessToken(token);
    const cached = this.#tokens.get(tokenHash);
    // A known token is answered without a promise (every request asks).
    if (cached === undefined) return this.#authenticateFromDatabase(tokenHash);
    const now = this.#ctx.now();
    if (!lastSeenIsStale(cached.lastSeenTs, now)) return cached.user;
    cached.lastSeenTs = now;
    return touchDevice(this.#ctx.db, cached.user.userId, cached.user.deviceId, now).then(
      () => cached.user,
    );
  }

  /**
   * The user of `token` when the cache knows it and its device's `last_seen_ts` needs no write:
   * `authenticate` without any database work, for a caller that has another way to answer
   * otherwise (the `/sync` fast path leaves the request to the app, which authenticates it).
   */
  cachedUser(token: string): AuthenticatedUser | undefined {
    const cached = this.#tokens.get(hashAccessToken(token));
    if (cached === undefined || lastSeenIsStale(cached.lastSeenTs, this.#ctx.now()))
      return undefined;
    return cached.user;
  }

  async #authenticateFromDatabase(tokenHash: string): Promise<AuthenticatedUser | undefined> {
    const now = this.#ctx.now();
    const generation = this.#tokens.generation;
    const row = await findAccessToken(this.#ctx.db, tokenHash);
    if (row === undefined) return undefined;
    let lastSeenTs = row.lastSeenTs;
    if (lastSeenIsStale(lastSeenTs, now)) {
      await touchDevice(this.#ctx.db, row.userId, row.deviceId, now);
      lastSeenTs = now;
    }
    const user = Object.freeze({ userId: row.userId, deviceId: row.deviceId });
    this.#tokens.remember(tokenHash, { user, lastSeenTs: lastSeenTs ?? now }, generation);
    return user;
  }

  /** Subscribes to device additions/removals (e2e device lists). */
  onDeviceChange(listener: DeviceChangeListener): void {
    this.#deviceListeners.push(listener);
  }

  /** Subscribes to deactivations: `listener` runs in the transaction that marks the user. */
  onDeactivate(listener: DeactivationListener): void {
    this.#deactivationListeners.push(listener);
  }

  /** `@<localpart>:<server name>`, after checking the localpart grammar and length. */
  userIdFor(localpart: string): string {
    const userId = `@${localpart}:${this.#ctx.config.serverName}`;
    if (!LOCALPART.test(localpart) || userId.length > 255) {
      throw new MatrixError(400, 'M_INVALID_USERNAME', 'User ID must match [a-z0-9._=-/+]+');
    }
    return userId;
  }

  async userExists(userId: string): Promise<boolean> {
    const row = await this.#ctx.db.queryOne('SELECT 1 AS one FROM users WHERE user_id = $1', [
      userId,
    ]);
    return row !== undefined;
  }

  /** Creates a user (and, unless `inhibitLogin`, a device and token). */
  async register(options: {
    localpart?: string;
    password?: string;
    deviceId?: string;
    deviceDisplayName?: string;
    inhibitLogin?: boolean;
  }): Promise<{ userId: string; deviceId?: string; accessToken?: string }> {
    const localpart = options.localpart ?? `u${randomBytes(6).toString('hex')}`;
    const userId = this.userIdFor(localpart);
    const passwordHash =
      options.password === undefined ? null : await hashPassword(options.password);
    try {
      return await this.#ctx.db.transaction(async (tx) => {
        await tx.execute(
          'INSERT INTO users (user_id, password_hash, created_ts) VALUES ($1, $2, $3)',
          [userId, passwordHash, this.#ctx.now()],
        );
        if (options.inhibitLogin) return { userId };
        return this.#login(tx, userId, options.deviceId, options.deviceDisplayName);
      });
    } catch (error) {
      if (StorageError.isInstance(error) && error.code === 'unique-violation') {
        throw new MatrixError(400, 'M_USER_IN_USE', 'User ID already taken');
      }
      throw error;
    }
  }

  /**
   * Checks a password login; a wrong user or password is the same 403 (no user enumeration),
   * an {@link InvalidLoginError} (what login's failure limiter counts, unlike other refusals).
   */
  async loginWithPassword(options: {
    userId: string;
    password: string;
    deviceId?: string;
    deviceDisplayName?: string;
  }): Promise<LoginResult> {
    const row = await this.#ctx.db.queryOne<{ password_hash: string | null; deactivated: number }>(
      'SELECT password_hash, deactivated FROM users WHERE user_id = $1',
      [options.userId],
    );
    // An unknown user costs the same scrypt run as a known one, so timing does not tell them apart.
    const stored = row?.password_hash ?? (await this.#dummyHash());
    const matches = await verifyPassword(options.password, stored);
    const ok = row !== undefined && row.deactivated === 0 && row.password_hash !== null && matches;
    if (!ok) throw new InvalidLoginError();
    const checkedHash = row.password_hash as string;
    return this.#ctx.db.transaction(async (tx) => {
      // The password was checked outside this transaction (scrypt is slow): the token is issued
      // only if it is still the password and the account still active. A no-op UPDATE rather
      // than a SELECT: it locks the row (PostgreSQL; SQLite transactions are serial anyway), so
      // a concurrent changePassword or deactivation either commits first and this refuses, or
      // waits for this login and then sees (and removes) the device it made.
      const unchanged = await tx.execute(
        `UPDATE users SET password_hash = password_hash
          WHERE user_id = $1 AND password_hash = $2 AND deactivated = 0`,
        [options.userId, checkedHash],
      );
      if (unchanged === 0) throw new InvalidLoginError();
      if (
        options.deviceId !== undefined &&
        (await this.#isCrossSigningKeyId(tx, options.userId, options.deviceId))
      ) {
        // Spec login.yaml 403: the requested device ID is the same as a cross-signing key ID.
        throw MatrixError.forbidden('The device ID is the ID of one of your cross-signing keys');
      }
      return this.#login(tx, options.userId, options.deviceId, options.deviceDisplayName);
    });
  }

  /**
   * Whether `deviceId` is the ID of one of the user's cross-signing keys: its public key (the
   * `ed25519:` key ID's tail, the form a device ID would take) or the whole key ID.
   */
  async #isCrossSigningKeyId(tx: SqlExecutor, userId: string, deviceId: string): Promise<boolean> {
    const rows = await tx.query<{ key_json: string }>(
      'SELECT key_json FROM e2e_cross_signing_keys WHERE user_id = $1',
      [userId],
    );
    for (const row of rows) {
      const keys = (JSON.parse(row.key_json) as { keys?: Record<string, unknown> }).keys ?? {};
      for (const [keyId, publicKey] of Object.entries(keys)) {
        if (deviceId === keyId || deviceId === publicKey) return true;
        if (deviceId === keyId.slice(keyId.indexOf(':') + 1)) return true;
      }
    }
    return false;
  }

  /** A hash of a random password with the current parameters, made once. */
  #dummyHash(): Promise<string> {
    this.#dummy ??= hashPassword(randomBytes(16).toString('hex'));
    return this.#dummy;
  }

  /** Checks a user's password (User-Interactive Auth `m.login.password`). */
  async checkPassword(userId: string, password: string): Promise<boolean> {
    const row = await this.#ctx.db.queryOne<{ password_hash: string | null }>(
      'SELECT password_hash FROM users WHERE user_id = $1 AND deactivated = 0',
      [userId],
    );
    return row?.password_hash != null && (await verifyPassword(password, row.password_hash));
  }

  async #login(
    tx: SqlExecutor,
    userId: string,
    requestedDeviceId: string | undefined,
    displayName: string | undefined,
  ): Promise<LoginResult> {
    const deviceId = requestedDeviceId ?? randomBytes(5).toString('hex').toUpperCase();
    const existing = await tx.queryOne(
      'SELECT 1 AS one FROM devices WHERE user_id = $1 AND device_id = $2',
      [userId, deviceId],
    );
    const now = this.#ctx.now();
    if (existing === undefined) {
      await tx.execute(
        'INSERT INTO devices (user_id, device_id, display_name, last_seen_ts) VALUES ($1, $2, $3, $4)',
        [userId, deviceId, displayName ?? null, now],
      );
      for (const listener of this.#deviceListeners) {
        await listener(tx, { userId, deviceId, change: 'added' });
      }
    } else {
      // Spec "Login": logging in with an existing device ID invalidates its old tokens.
      await tx.execute('DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2', [
        userId,
        deviceId,
      ]);
      tx.afterCommit(() => this.#tokens.forgetUser(userId));
    }
    const accessToken = await issueAccessToken(tx, userId, deviceId, now);
    return { userId, deviceId, accessToken };
  }

  /** Spec "Device management": a user's devices, oldest first. */
  async listDevices(userId: string): Promise<DeviceInfo[]> {
    const rows = await this.#ctx.db.query<DeviceRow>(
      `SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices
        WHERE user_id = $1 ORDER BY last_seen_ts, device_id`,
      [userId],
    );
    return rows.map(toDeviceInfo);
  }

  /** One device of a user, or `undefined`. */
  async getDevice(userId: string, deviceId: string): Promise<DeviceInfo | undefined> {
    const row = await this.#ctx.db.queryOne<DeviceRow>(
      `SELECT device_id, display_name, last_seen_ts, last_seen_ip FROM devices
        WHERE user_id = $1 AND device_id = $2`,
      [userId, deviceId],
    );
    return row === undefined ? undefined : toDeviceInfo(row);
  }

  /** Renames a device; false when the user has no such device. */
  async renameDevice(
    userId: string,
    deviceId: string,
    displayName: string | null,
  ): Promise<boolean> {
    const changed = await this.#ctx.db.execute(
      'UPDATE devices SET display_name = $1 WHERE user_id = $2 AND device_id = $3',
      [displayName, userId, deviceId],
    );
    return changed > 0;
  }

  /**
   * Spec "POST /account/password": sets a new password; with `logoutOtherDevices` every other
   * device of the user (and its tokens) is removed, as on logout, in the same transaction as the
   * new hash (a login checked against the old password cannot slip a device in between).
   */
  async changePassword(
    userId: string,
    keepDeviceId: string,
    newPassword: string,
    logoutOtherDevices: boolean,
  ): Promise<void> {
    const hash = await hashPassword(newPassword);
    await this.#ctx.db.transaction(async (tx) => {
      await tx.execute('UPDATE users SET password_hash = $1 WHERE user_id = $2', [hash, userId]);
      if (!logoutOtherDevices) return;
      const rows = await tx.query<{ device_id: string }>(
        'SELECT device_id FROM devices WHERE user_id = $1',
        [userId],
      );
      const others = rows.map((row) => row.device_id).filter((id) => id !== keepDeviceId);
      await this.#deleteDevicesIn(tx, userId, others);
      // Tokens without a device row (none should exist) go as well.
      await tx.execute('DELETE FROM access_tokens WHERE user_id = $1 AND device_id <> $2', [
        userId,
        keepDeviceId,
      ]);
    });
  }

  /**
   * Marks a user deactivated (spec "POST /account/deactivate"): their password goes, every
   * device and token is removed (telling device listeners), what deactivation listeners keep
   * (key backups) goes in the same transaction as the mark, and the user ID stays taken. With
   * `erase` the user's other non-event data goes too (see {@link ERASED_USER_DATA}) and the user
   * is recorded as erased (rooms/erased-senders.ts).
   */
  async deactivate(userId: string, options: { erase?: boolean } = {}): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      await tx.execute(
        'UPDATE users SET deactivated = 1, password_hash = NULL WHERE user_id = $1',
        [userId],
      );
      for (const listener of this.#deactivationListeners) await listener(tx, userId);
      if (options.erase === true) {
        for (const statement of ERASED_USER_DATA) await tx.execute(statement, [userId]);
        // From now on, users who join later get the user's events redacted.
        await recordErasure(this.#ctx.db, tx, userId, this.#ctx.now());
      }
    });
    // A deactivated user's tokens stop working now, not after the device deletions below.
    this.#tokens.forgetUser(userId);
    await this.logoutAll(userId);
  }

  /** Whether the user was deactivated with `erase: true`. */
  async isErased(userId: string): Promise<boolean> {
    const row = await this.#ctx.db.queryOne(
      'SELECT 1 AS one FROM erased_users WHERE user_id = $1',
      [userId],
    );
    return row !== undefined;
  }

  /** Invalidates one token (`/logout`): the device and its keys go too, as the spec says. */
  async logout(userId: string, deviceId: string): Promise<void> {
    await this.deleteDevices(userId, [deviceId]);
  }

  /**
   * Invalidates every token of a user (`/logout/all`) and removes all devices, telling device
   * listeners of each. One transaction, the devices read inside it: a login committing between a
   * read of the devices and the deletes would keep a device the read missed while the final
   * DELETE of the user's tokens took its token — a device left without tokens, its keys still
   * served and its removal never announced. Every token that existed when this returns is gone.
   */
  async logoutAll(userId: string): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      // As in loginWithPassword: a no-op UPDATE locks the user's row (PostgreSQL; SQLite
      // transactions are serial anyway), so a concurrent login either commits first, and its
      // device is read below, or waits for this transaction.
      await tx.execute('UPDATE users SET password_hash = password_hash WHERE user_id = $1', [
        userId,
      ]);
      const rows = await tx.query<{ device_id: string }>(
        'SELECT device_id FROM devices WHERE user_id = $1',
        [userId],
      );
      await this.#deleteDevicesIn(
        tx,
        userId,
        rows.map((row) => row.device_id),
      );
      // Tokens without a device row (none should exist) go as well.
      await tx.execute('DELETE FROM access_tokens WHERE user_id = $1', [userId]);
    });
  }

  /** Deletes devices with their tokens, telling device-change listeners in the same transaction. */
  async deleteDevices(userId: string, deviceIds: readonly string[]): Promise<void> {
    await this.#ctx.db.transaction((tx) => this.#deleteDevicesIn(tx, userId, deviceIds));
  }

  async #deleteDevicesIn(
    tx: SqlExecutor,
    userId: string,
    deviceIds: readonly string[],
  ): Promise<void> {
    for (const deviceId of deviceIds) {
      await tx.execute('DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2', [
        userId,
        deviceId,
      ]);
      const removed = await tx.execute(
        'DELETE FROM devices WHERE user_id = $1 AND device_id = $2',
        [userId, deviceId],
      );
      if (removed > 0) {
        for (const listener of this.#deviceListeners) {
          await listener(tx, { userId, deviceId, change: 'removed' });
        }
      }
    }
    tx.afterCommit(() => this.#tokens.forgetUser(userId));
  }
}
