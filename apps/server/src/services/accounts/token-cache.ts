/**
 * A bounded in-memory map from access-token hash to its user and device, so an authenticated
 * request does not cost a database query (it was one query per request: every `/sync` and send).
 * Keyed by hash, as the database is, so that a memory dump hands out no session either (hashing
 * costs ≈ 1 µs a request, ≈ 1% of the sync load's main thread).
 *
 * Correctness rests on two rules, both kept by `AccountService`:
 * - every change that deletes tokens or closes an account calls {@link forgetUser} once it has
 *   committed, so a logged-out token is refused by the next request;
 * - a lookup that read the database before such a change may finish after it: {@link remember}
 *   takes the {@link generation} read before the query and drops the entry if a
 *   {@link forgetUser} happened since (on PostgreSQL the query and the change interleave).
 */

import { LruMap } from '../../lru-map.ts';

/**
 * A cached token: who it authenticates (one frozen object, handed to every request of the token
 * instead of a copy each), and when its device's `last_seen_ts` was last written.
 */
export interface CachedToken {
  readonly user: { readonly userId: string; readonly deviceId: string };
  lastSeenTs: number;
}

/** Default bound: tokens of the most recently active devices (about 200 bytes each). */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

export class AccessTokenCache {
  readonly #entries: LruMap<string, CachedToken>;
  #generation = 0;

  constructor(max: number = DEFAULT_TOKEN_CACHE_SIZE) {
    this.#entries = new LruMap(max);
  }

  /** Changes on every {@link forgetUser}; read it before querying the database. */
  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(tokenHash: string): CachedToken | undefined {
    return this.#entries.get(tokenHash);
  }

  /** Caches a database answer, unless tokens were deleted since `generation` was read. */
  remember(tokenHash: string, entry: CachedToken, generation: number): void {
    if (generation !== this.#generation) return;
    this.#entries.set(tokenHash, entry);
  }

  /** Drops every cached token of `userId` (logout, device deletion, deactivation). */
  forgetUser(userId: string): void {
    this.#generation++;
    for (const [hash, entry] of this.#entries.entries()) {
      if (entry.user.userId === userId) this.#entries.delete(hash);
    }
  }
}
