/**
 * Account data (client-server-api "Client Config"): per-user JSON objects by type, global or per
 * room. Each write takes a stream position in its transaction and is announced in its
 * after-commit hook, so `/sync` returns it in `account_data` after any older token
 * (https://spec.matrix.org/v1.19/client-server-api/#client-config).
 */
import { parseAnyJson } from '@weft/canonical-json';
import { isObject } from '../../json-object.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import { IGNORED_USER_LIST, IgnoredUsers } from './ignored-users.ts';
import {
  GLOBAL_ROOM,
  selectAccountData,
  selectAccountDataBetween,
  upsertAccountData,
} from './store.ts';

/** An account data event as `/sync` returns it. */
export interface AccountDataEvent {
  readonly type: string;
  readonly content: Record<string, unknown>;
}

/** A change returned by {@link AccountDataService.accountDataSince}. */
export interface AccountDataChange extends AccountDataEvent {
  /** `undefined` for global account data. */
  readonly roomId: string | undefined;
  readonly streamPosition: number;
}

const TAG_TYPE = 'm.tag';

/**
 * The `tags` object of `m.tag` content, as a fresh object. Content a client wrote through the
 * account data API may hold anything: what is not an object of objects reads as no tags.
 */
function tagsOf(content: unknown): Record<string, unknown> {
  // No prototype: a tag named `__proto__` is an own key like any other.
  const tags: Record<string, unknown> = Object.create(null);
  const stored = isObject(content) ? content['tags'] : undefined;
  if (!isObject(stored)) return tags;
  for (const [name, info] of Object.entries(stored)) if (isObject(info)) tags[name] = info;
  return tags;
}

export class AccountDataService {
  readonly #ctx: ServerContext;
  /** Each user's `m.ignored_user_list`, in memory (ignored-users.ts). */
  readonly ignoredUsers: IgnoredUsers;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    this.ignoredUsers = new IgnoredUsers(ctx.db, (error) =>
      ctx.log.error('loading the ignored user lists failed', { error }),
    );
  }

  /** Sets global (`roomId` undefined) or room account data; returns its stream position. */
  async set(
    userId: string,
    roomId: string | undefined,
    type: string,
    content: Record<string, unknown>,
  ): Promise<number> {
    const position = await this.#ctx.db.transaction((tx) =>
      this.setInTransaction(tx, userId, roomId, type, content),
    );
    if (roomId === undefined && type === IGNORED_USER_LIST) {
      this.ignoredUsers.changed(userId, content);
    }
    return position;
  }

  /**
   * Writes account data inside the caller's transaction (push rules write `m.push_rules` with
   * their own change) and returns its stream position. The position is announced in the
   * transaction's after-commit hook, right after COMMIT under the write lock: a later commit (a
   * room event) must not be announced first, or a sync woken by it could hand out a token past
   * this change without returning it.
   */
  async setInTransaction(
    tx: SqlExecutor,
    userId: string,
    roomId: string | undefined,
    type: string,
    content: Record<string, unknown>,
  ): Promise<number> {
    const position = await nextStreamPosition(tx);
    // Not canonical JSON: account data may hold floats (a tag's `order`), which it cannot encode.
    const json = JSON.stringify(content);
    await upsertAccountData(tx, userId, roomId ?? GLOBAL_ROOM, type, json, position);
    tx.afterCommit(() => this.#ctx.notifier.notify(position));
    return position;
  }

  /**
   * Adds (`info` an object) or removes (`info` undefined) one tag of a room's `m.tag` account
   * data, read and written in one transaction so concurrent tag changes do not undo each other
   * (https://spec.matrix.org/v1.19/client-server-api/#room-tagging).
   */
  async setRoomTag(
    userId: string,
    roomId: string,
    tag: string,
    info: Record<string, unknown> | undefined,
  ): Promise<void> {
    await this.#ctx.db.transaction(async (tx) => {
      const stored = await selectAccountData(tx, userId, roomId, TAG_TYPE);
      const content = stored === undefined ? undefined : parseAnyJson(stored);
      const tags = tagsOf(content);
      if (info === undefined) delete tags[tag];
      else tags[tag] = info;
      // Other keys a client put beside `tags` (through the account data API) stay.
      const others = isObject(content) ? content : {};
      await this.setInTransaction(tx, userId, roomId, TAG_TYPE, { ...others, tags });
    });
  }

  /** A room's tags (the `tags` of its `m.tag` account data); `{}` when it has none. */
  async roomTags(userId: string, roomId: string): Promise<Record<string, unknown>> {
    const stored = await selectAccountData(this.#ctx.db, userId, roomId, TAG_TYPE);
    return tagsOf(stored === undefined ? undefined : parseAnyJson(stored));
  }

  /** The content of one account data type, or `undefined` when never set. */
  async get(
    userId: string,
    roomId: string | undefined,
    type: string,
  ): Promise<Record<string, unknown> | undefined> {
    const json = await selectAccountData(this.#ctx.db, userId, roomId ?? GLOBAL_ROOM, type);
    return json === undefined ? undefined : (parseAnyJson(json) as Record<string, unknown>);
  }

  /**
   * Every account data change of `userId` with a position in (`fromPosition`, `toPosition`],
   * oldest first (each type appears once, at its latest write). `fromPosition` 0 gives all.
   */
  async accountDataSince(
    userId: string,
    fromPosition: number,
    toPosition: number,
  ): Promise<AccountDataChange[]> {
    const rows = await selectAccountDataBetween(this.#ctx.db, userId, fromPosition, toPosition);
    return rows.map((row) => ({
      roomId: row.room_id === GLOBAL_ROOM ? undefined : row.room_id,
      type: row.type,
      content: parseAnyJson(row.content) as Record<string, unknown>,
      streamPosition: Number(row.stream_position),
    }));
  }

  /** Global account data events changed in (`from`, `to`]. */
  async globalSince(userId: string, from: number, to: number): Promise<AccountDataEvent[]> {
    return (await this.accountDataSince(userId, from, to))
      .filter((change) => change.roomId === undefined)
      .map(({ type, content }) => ({ type, content }));
  }

  /** Account data events of one room changed in (`from`, `to`]. */
  async roomSince(
    userId: string,
    roomId: string,
    from: number,
    to: number,
  ): Promise<AccountDataEvent[]> {
    const rows = await selectAccountDataBetween(this.#ctx.db, userId, from, to, roomId);
    return rows.map((row) => ({
      type: row.type,
      content: parseAnyJson(row.content) as Record<string, unknown>,
    }));
  }

  /** Rooms with account data changed in (`from`, `to`]. */
  async roomsChanged(userId: string, from: number, to: number): Promise<Set<string>> {
    const rooms = new Set<string>();
    for (const change of await this.accountDataSince(userId, from, to)) {
      if (change.roomId !== undefined) rooms.add(change.roomId);
    }
    return rooms;
  }
}
