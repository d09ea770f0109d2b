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
import { searchDirectory } from './store.ts';

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

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
  }

  /** At most `limit` users `searcher` may see whose ID or display name contains `term`. */
  async search(searcher: string, term: string, limit: number): Promise<DirectorySearch> {
    const rows = await searchDirectory(
      this.#ctx.db,
      this.#ctx.db.dialect,
      searcher,
      term.toLowerCase(),
      limit + 1,
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
