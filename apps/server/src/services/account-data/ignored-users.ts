/**
 * Ignored users (client-server-api "Ignoring Users",
 * https://spec.matrix.org/v1.19/client-server-api/#ignoring-users): each user's
 * `m.ignored_user_list` global account data, kept in memory as `user → set of ignored user IDs`
 * for the users whose list is not empty. `/sync`, `/messages` and `/context` ask it for every
 * request, so a user without ignored users costs one map lookup that finds nothing; their
 * checks run only when a set comes back. Loaded once at start (the server's start waits for it and
 * fails when it fails), then updated after each commit of the account data (a change applies to
 * the next request, as the spec's "immediately").
 */
import { parseAnyJson } from '@weft/canonical-json';
import { isObject } from '../../json-object.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { selectGlobalAccountDataOfType } from './store.ts';

export const IGNORED_USER_LIST = 'm.ignored_user_list';

/** The user IDs of an `m.ignored_user_list` content: the keys of `ignored_users`. */
function ignoredUsersOf(content: unknown): Set<string> {
  const users = new Set<string>();
  if (typeof content !== 'object' || content === null) return users;
  const ignored = (content as Record<string, unknown>)['ignored_users'];
  if (!isObject(ignored)) return users;
  for (const userId of Object.keys(ignored)) users.add(userId);
  return users;
}

/** Events without the non-state events of `ignored` senders (state events always stay). */
export function withoutIgnored<E extends { readonly sender: string; readonly stateKey?: unknown }>(
  events: E[],
  ignored: ReadonlySet<string> | undefined,
): E[] {
  if (ignored === undefined) return events;
  const kept = events.filter((e) => e.stateKey !== undefined || !ignored.has(e.sender));
  return kept.length === events.length ? events : kept;
}

/**
 * What the other services read of `IgnoredUsers` (push, relations, search, sync, to-device): the
 * one type they are handed it as.
 */
export interface IgnoredUsersLookup {
  /** Whether any user ignores anyone (when not, per-recipient checks are skipped). */
  readonly anyone: boolean;
  /** The users `userId` ignores, or `undefined` when none (the common case: nothing to do). */
  of(userId: string): ReadonlySet<string> | undefined;
}

export class IgnoredUsers implements IgnoredUsersLookup {
  readonly #byUser = new Map<string, ReadonlySet<string>>();
  /**
   * Settles once the stored lists are in memory; rejects when they could not be read. The
   * server's start waits for it (server.ts), so no request reads the lists before.
   */
  readonly ready: Promise<void>;

  /** `onError`: told of a failed load (which the server's start also fails on). */
  constructor(db: SqlExecutor, onError: (error: unknown) => void) {
    this.ready = this.#load(db);
    this.ready.catch(onError);
  }

  async #load(db: SqlExecutor): Promise<void> {
    for (const row of await selectGlobalAccountDataOfType(db, IGNORED_USER_LIST)) {
      this.#put(row.user_id, parseAnyJson(row.content));
    }
  }

  /** Whether any user ignores anyone (when not, per-recipient checks are skipped). */
  get anyone(): boolean {
    return this.#byUser.size > 0;
  }

  /** The users `userId` ignores, or `undefined` when none (the common case: nothing to do). */
  of(userId: string): ReadonlySet<string> | undefined {
    return this.#byUser.get(userId);
  }

  /** Records `userId`'s new `m.ignored_user_list` content (after its commit). */
  changed(userId: string, content: unknown): void {
    this.#put(userId, content);
  }

  #put(userId: string, content: unknown): void {
    const users = ignoredUsersOf(content);
    // The user themself is never ignored: their own events always reach them.
    users.delete(userId);
    if (users.size === 0) this.#byUser.delete(userId);
    else this.#byUser.set(userId, users);
  }
}
