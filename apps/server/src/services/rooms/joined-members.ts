/**
 * The joined members of each room and their local members' display names, kept in memory per
 * current state: every event a room sends asks for them (the push service for its local
 * recipients and for the `contains_display_name` rule, the federation sender for its
 * destinations), which was three to four queries per send.
 *
 * An entry is valid for the state group it was read at: every change to a room's joined set or a
 * member's display name is a state change and moves the room's `current_state_group` (local and
 * remote member events, a federated join's state, state resolution), so a lookup compares the
 * room's current group with the entry's and reads again when they differ. An entry read inside a
 * write is stored only once that transaction has committed (`afterCommit`): a group read inside a
 * write that rolls back may have its ID reused by SQLite for a different state; one read outside
 * any write (the EDU sender's) is stored at once.
 *
 * The room's group is read from its row on each lookup, except while a write that has just set
 * it runs its listeners (`withKnownState`): every event sent asked three times (push recipients,
 * display names, federation destinations), three primary-key reads of a row the write had in
 * hand.
 */
import { LruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { isLocalUser } from './local-user.ts';
import { joinedMemberCount, joinedMembers, loadRoom, localJoinedMembers } from './room-store.ts';

/** Members kept in total (entries are weighed in members: one big room weighs as much as many small ones). */
const MAX_MEMBERS = 100_000;

interface Entry {
  readonly stateGroup: number;
  readonly members: readonly string[];
  /** `members` of this server, picked out on first use. */
  local?: readonly string[];
  displayNames?: ReadonlyMap<string, string>;
}

/** This server's joined members of a room and how many are joined in all, at one state group. */
export interface LocalMembers {
  readonly local: readonly string[];
  readonly count: number;
}

interface LocalEntry extends LocalMembers {
  readonly stateGroup: number;
  displayNames?: ReadonlyMap<string, string>;
}

export class JoinedMembersCache {
  readonly #entries = new LruMap<string, Entry>(MAX_MEMBERS);
  /**
   * Local members read alone, for a state no full entry is held for: the push service needs only
   * them (and the count), and a 30,000-member room's state moved by a join had it read every
   * member ID (30–66 ms a join, on the resident and the joining server) to find one or none.
   */
  readonly #locals = new LruMap<string, LocalEntry>(MAX_MEMBERS);
  readonly #serverName: string;
  constructor(serverName: string) {
    this.#serverName = serverName;
  }

  /** A room's current state group as the running write set it, for lookups through its `db`. */
  #known:
    | { readonly db: SqlExecutor; readonly roomId: string; readonly stateGroup: number | null }
    | undefined;

  /**
   * Runs `work` (a write's listeners) knowing that, through `db`, `roomId`'s current state group
   * is `stateGroup`: lookups through that executor skip reading the room row. Only the write's
   * own executor is trusted with it; reads through any other see committed state.
   */
  async withKnownState<T>(
    db: SqlExecutor,
    roomId: string,
    stateGroup: number | null,
    work: () => Promise<T>,
  ): Promise<T> {
    const outer = this.#known;
    this.#known = { db, roomId, stateGroup };
    try {
      return await work();
    } finally {
      this.#known = outer;
    }
  }

  /** The users joined to `roomId` now, as `db` sees it (a transaction sees its own writes). */
  async members(db: SqlExecutor, roomId: string): Promise<readonly string[]> {
    const { stateGroup, entry } = await this.#current(db, roomId);
    if (entry !== undefined) return entry.members;
    const members = await joinedMembers(db, roomId);
    if (stateGroup !== undefined) {
      db.afterCommit(() => this.#store(roomId, { stateGroup, members }));
    }
    return members;
  }

  /**
   * This server's users joined to `roomId` now and the number of joined members (local or not),
   * as `db` sees it: from the full entry when memory holds one for the current state, else read
   * from the database without the remote members.
   */
  async localMembers(db: SqlExecutor, roomId: string): Promise<LocalMembers> {
    const { stateGroup, entry } = await this.#current(db, roomId);
    if (entry !== undefined) {
      entry.local ??= entry.members.filter((userId) => isLocalUser(userId, this.#serverName));
      return { local: entry.local, count: entry.members.length };
    }
    const kept = this.#locals.get(roomId);
    if (kept !== undefined && kept.stateGroup === stateGroup) return kept;
    const local = await localJoinedMembers(db, roomId, this.#serverName);
    const read = { local, count: await joinedMemberCount(db, roomId) };
    if (stateGroup !== undefined) {
      db.afterCommit(() =>
        this.#locals.set(roomId, { stateGroup, ...read }, Math.min(local.length + 1, MAX_MEMBERS)),
      );
    }
    return read;
  }

  /**
   * The display names of this server's users joined to `roomId` now (members without one are
   * absent), read with `load` when memory does not hold them for the room's current state.
   */
  async displayNames(
    db: SqlExecutor,
    roomId: string,
    load: () => Promise<ReadonlyMap<string, string>>,
  ): Promise<ReadonlyMap<string, string>> {
    const { stateGroup, entry } = await this.#current(db, roomId);
    if (entry?.displayNames !== undefined) return entry.displayNames;
    const kept = this.#locals.get(roomId);
    if (kept?.displayNames !== undefined && kept.stateGroup === stateGroup)
      return kept.displayNames;
    const names = await load();
    if (stateGroup !== undefined) {
      db.afterCommit(() => {
        // Only beside the members of the same state (an entry is replaced when state moves on).
        const stored = this.#entries.get(roomId);
        if (stored?.stateGroup === stateGroup) stored.displayNames = names;
        const local = this.#locals.get(roomId);
        if (local?.stateGroup === stateGroup) local.displayNames = names;
      });
    }
    return names;
  }

  /** The room's current state group and the entry read at it, if memory holds one. */
  async #current(
    db: SqlExecutor,
    roomId: string,
  ): Promise<{ stateGroup: number | undefined; entry: Entry | undefined }> {
    const known = this.#known;
    const stateGroup =
      known !== undefined && known.db === db && known.roomId === roomId
        ? (known.stateGroup ?? undefined)
        : ((await loadRoom(db, roomId))?.currentStateGroup ?? undefined);
    const entry = this.#entries.get(roomId);
    return {
      stateGroup,
      entry: entry !== undefined && entry.stateGroup === stateGroup ? entry : undefined,
    };
  }

  #store(roomId: string, entry: Entry): void {
    // A room bigger than the whole bound is still kept, alone: re-reading its members for every
    // event would cost far more than the memory.
    this.#entries.set(roomId, entry, Math.min(entry.members.length, MAX_MEMBERS));
  }
}
