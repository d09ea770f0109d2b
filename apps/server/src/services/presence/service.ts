/**
 * Basic presence (client-server-api "Presence",
 * https://spec.matrix.org/v1.19/client-server-api/#presence): a user's `online` / `unavailable` /
 * `offline` state and status message, stored with the stream position of its last change so
 * `/sync` can return `m.presence` events after a token ({@link PresenceService.presenceSince}).
 * There is no idle timer: a state stays until the user sets another.
 */
import { MatrixError } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import {
  type PresenceRow,
  presenceAudience,
  selectPresence,
  selectPresenceBetween,
  shareJoinedRoom,
  upsertPresence,
} from './store.ts';

/** Spec "m.presence": the states a user can be in. */
export const PRESENCE_STATES = ['online', 'offline', 'unavailable'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** Spec `m.presence` content. */
export interface PresenceContent {
  readonly presence: PresenceState;
  readonly last_active_ago?: number;
  readonly status_msg?: string;
  readonly currently_active?: boolean;
}

/** An `m.presence` event as `/sync` returns it. */
export interface PresenceEvent {
  readonly type: 'm.presence';
  readonly sender: string;
  readonly content: PresenceContent;
}

/**
 * Presence rows kept in memory: every `/sync` reads its user's presence (to apply
 * `set_presence`), and it rarely changes. Bounded; the oldest entry goes first.
 */
const ROW_CACHE_SIZE = 10_000;

export class PresenceService {
  readonly #ctx: ServerContext;
  readonly #userExists: (userId: string) => Promise<boolean>;
  readonly #rows = new Map<string, PresenceRow>();
  /** Counts writes, so a read that raced one does not cache what it read. */
  #writes = 0;

  constructor(ctx: ServerContext, userExists: (userId: string) => Promise<boolean>) {
    this.#ctx = ctx;
    this.#userExists = userExists;
  }

  /** Sets a user's presence; returns the stream position of the change. */
  async set(
    userId: string,
    presence: PresenceState,
    statusMsg: string | undefined,
  ): Promise<number> {
    return this.#ctx.db.transaction(async (tx) => {
      const next = await nextStreamPosition(tx);
      await upsertPresence(tx, userId, presence, statusMsg ?? null, this.#ctx.now(), next);
      // Only those who see the change are woken: `/sync` shows a user's presence to the users
      // sharing a joined room with them (and to themselves). A broadcast would wake every
      // long-poll to find nothing for most (100 users coming online: 10,000 empty rebuilds).
      const audience = await presenceAudience(tx, userId);
      tx.afterCommit(() => {
        // Committed: this is the row now (a read that started before must not cache its own).
        this.#writes++;
        this.#rows.delete(userId);
        this.#ctx.notifier.notify(next, { users: [userId, ...audience] });
      });
      return next;
    });
  }

  /** A user's presence (`offline` when never set); 404 `M_NOT_FOUND` for an unknown user. */
  async get(userId: string): Promise<PresenceContent> {
    const row = await this.#row(userId);
    if (row === undefined) {
      if (!(await this.#userExists(userId)))
        throw MatrixError.notFound('No presence for this user');
      return { presence: 'offline' };
    }
    return this.#content(row);
  }

  /**
   * Whether `viewerId` may see `userId`'s presence: spec "Presence" publishes it to the users
   * sharing a room with them (GET /presence/{userId}/status: 403 otherwise).
   */
  async visibleTo(viewerId: string, userId: string): Promise<boolean> {
    return viewerId === userId || (await shareJoinedRoom(this.#ctx.db, viewerId, userId));
  }

  /** A user's presence row, from memory when it was read since its last change. */
  async #row(userId: string): Promise<PresenceRow | undefined> {
    const cached = this.#rows.get(userId);
    if (cached !== undefined) return cached;
    const writes = this.#writes;
    const row = await selectPresence(this.#ctx.db, userId);
    if (row !== undefined && writes === this.#writes) {
      if (this.#rows.size >= ROW_CACHE_SIZE) {
        const oldest = this.#rows.keys().next();
        if (!oldest.done) this.#rows.delete(oldest.value);
      }
      this.#rows.set(userId, row);
    }
    return row;
  }

  /** `m.presence` events of every change in (`fromPosition`, `toPosition`], oldest first. */
  async presenceSince(fromPosition: number, toPosition: number): Promise<PresenceEvent[]> {
    const rows = await selectPresenceBetween(this.#ctx.db, fromPosition, toPosition);
    return rows.map((row) => ({
      type: 'm.presence' as const,
      sender: row.user_id,
      content: this.#content(row),
    }));
  }

  #content(row: PresenceRow): PresenceContent {
    const ago = Math.max(0, this.#ctx.now() - Number(row.last_active_ts));
    return {
      presence: row.presence as PresenceState,
      last_active_ago: ago,
      ...(row.status_msg !== null ? { status_msg: row.status_msg } : {}),
      currently_active: row.presence === 'online',
    };
  }
}
