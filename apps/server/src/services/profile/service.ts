/**
 * Profiles (client-server-api "Profiles",
 * https://spec.matrix.org/v1.19/client-server-api/#profiles): a local user's `displayname` and
 * `avatar_url`. New `m.room.member` events take them from here (the rooms service's profile
 * lookup), and a change is propagated to every joined room by the listeners registered with
 * {@link ProfileService.onProfileChange} (member-events.ts), after the profile row commits.
 */
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { selectProfile, upsertProfileField } from './store.ts';

/** The profile fields this server stores. */
export type ProfileField = 'displayname' | 'avatar_url';

export type Profile = {
  readonly displayname?: string;
  readonly avatar_url?: string;
};

/** Called after a profile change commits, with the whole new profile. */
export type ProfileChangeListener = (userId: string, profile: Profile) => Promise<void>;

/** Spec "Profiles" leaves limits to the server; Synapse caps display names at 256 characters. */
const MAX_FIELD_LENGTH = 1024;

function toProfile(row: { displayname: string | null; avatar_url: string | null }): Profile {
  return {
    ...(row.displayname !== null ? { displayname: row.displayname } : {}),
    ...(row.avatar_url !== null ? { avatar_url: row.avatar_url } : {}),
  };
}

export class ProfileService {
  readonly #ctx: ServerContext;
  readonly #listeners: ProfileChangeListener[] = [];
  readonly #userExists: (userId: string) => Promise<boolean>;

  constructor(ctx: ServerContext, userExists: (userId: string) => Promise<boolean>) {
    this.#ctx = ctx;
    this.#userExists = userExists;
  }

  /** Subscribes to profile changes (the rooms wiring updates member events). */
  onProfileChange(listener: ProfileChangeListener): void {
    this.#listeners.push(listener);
  }

  /** A user's profile; 404 `M_NOT_FOUND` for a user this server does not have. */
  async get(userId: string): Promise<Profile> {
    if (!(await this.#userExists(userId))) throw MatrixError.notFound('Profile not found');
    return this.lookup(this.#ctx.db, userId);
  }

  /** The stored profile (empty when nothing is set), read through `db` (may be a transaction). */
  async lookup(db: SqlExecutor, userId: string): Promise<Profile> {
    const row = await selectProfile(db, userId);
    return row === undefined ? {} : toProfile(row);
  }

  /** Sets (or with `null` clears) one field, then tells the listeners. */
  async set(userId: string, field: ProfileField, value: string | null): Promise<void> {
    if (value !== null && value.length > MAX_FIELD_LENGTH) {
      throw MatrixError.badJson(`${field} is too long`);
    }
    await this.#ctx.db.transaction((tx) => upsertProfileField(tx, userId, field, value));
    const profile = await this.lookup(this.#ctx.db, userId);
    for (const listener of this.#listeners) await listener(userId, profile);
  }
}
