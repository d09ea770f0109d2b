/**
 * The user directory (client-server-api "User Directory",
 * https://spec.matrix.org/v1.19/client-server-api/#user-directory): which users a search may
 * find is the server's choice above the spec's minimum, and this server searches exactly that
 * minimum — users who share a joined room with the searcher, and users joined to a room whose
 * `m.room.join_rules` is `public` or whose `m.room.history_visibility` is `world_readable`.
 * Remote users count when they are joined to such a room here; no other server is asked.
 * The term matches user IDs and profile display names case-insensitively (`LOWER` in SQL:
 * ASCII only on SQLite); deactivated accounts are never found.
 */
import type { ServerContext } from '../core/context.ts';
import type { RoomService } from '../rooms/service.ts';
import { readOpenRooms, searchDirectory } from './store.ts';

/** How long the set of public or world-readable rooms is trusted without a change seen. */
const OPEN_ROOMS_TTL_MS = 60_000;

/** One entry of `results`. */
export type DirectoryUser = {
  readonly user_id: string;
  readonly display_name?: string;
  readonly avatar_url?: string;
};

export type DirectorySearch = {
  readonly results: DirectoryUser[];
  readonly limited: boolean;
};

export class UserDirectoryService {
  readonly #ctx: ServerContext;
  /** The public or world-readable rooms, when read and not changed since. */
  #open: { readonly rooms: readonly string[]; readonly at: number } | undefined;
  /** Bumped on every committed join-rules or history-visibility change. */
  #generation = 0;

  constructor(ctx: ServerContext, rooms: RoomService) {
    this.#ctx = ctx;
    // A change of either state event, local or received over federation, drops the cached set
    // once committed; state that arrives otherwise (a remote join's room state) is seen within
    // OPEN_ROOMS_TTL_MS.
    rooms.onTimelineEvent(async (tx, event) => {
      if (
        event.stateKey === '' &&
        (event.type === 'm.room.join_rules' || event.type === 'm.room.history_visibility')
      ) {
        tx.afterCommit(() => {
          this.#generation += 1;
          this.#open = undefined;
        });
      }
    });
  }

  /** The public or world-readable rooms (cached; re-read after a change or the TTL). */
  async #openRooms(): Promise<readonly string[]> {
    const cached = this.#open;
    if (cached !== undefined && Date.now() - cached.at < OPEN_ROOMS_TTL_MS) return cached.rooms;
    const generation = this.#generation;
    const rooms = await readOpenRooms(this.#ctx.db);
    if (generation === this.#generation) this.#open = { rooms, at: Date.now() };
    return rooms;
  }

  /** At most `limit` users `searcher` may see whose ID or display name contains `term`. */
  async search(searcher: string, term: string, limit: number): Promise<DirectorySearch> {
    const rows = await searchDirectory(
      this.#ctx.db,
      this.#ctx.db.dialect,
      searcher,
      term.toLowerCase(),
      limit + 1,
      await this.#openRooms(),
    );
    const results = rows.slice(0, limit).map(
      (row): DirectoryUser => ({
        user_id: row.user_id,
        ...(row.displayname !== null ? { display_name: row.displayname } : {}),
        // Only an mxc:// URI is an avatar (spec: `format: mx-mxc-uri`).
        ...(row.avatar_url?.startsWith('mxc://') ? { avatar_url: row.avatar_url } : {}),
      }),
    );
    return { results, limited: rows.length > limit };
  }
}
