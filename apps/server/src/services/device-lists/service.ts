/**
 * Device-list tracking (client-server-api "Tracking the device list for a user" and "Extensions
 * to /sync" of the end-to-end encryption module): records when a user's devices or identity keys
 * change, and answers which users a given user should re-query (`changed`) or stop tracking
 * (`left`) between two sync tokens.
 *
 * Weft counts every room, not only encrypted ones, when deciding who shares a room: the spec's
 * note allows over-reporting `changed`, and it keeps the rule simple and independent of room
 * state.
 */
import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import type { RoomService } from '../rooms/index.ts';
import { RangeCache } from '../sync/range-cache.ts';
import {
  insertDeviceListChange,
  type MemberChangeRow,
  memberChangesBetween,
  roomsWithMembershipOf,
  usersChangedBetween,
} from './store.ts';

/** `device_lists` of `/sync` and the body of `/keys/changes`. */
export interface DeviceListChanges {
  readonly changed: string[];
  readonly left: string[];
}

/** Which device changed (absent: the user's cross-signing keys, or a change seen from elsewhere). */
export interface ChangedDevice {
  /** A device ID. */
  readonly deviceId: string;
  /** The device was removed. */
  readonly deleted?: boolean;
}

/** Told of a device-list change inside its write transaction. */
export type DeviceListListener = (
  tx: SqlExecutor,
  userId: string,
  device: ChangedDevice | undefined,
) => Promise<void>;

/** Device-list changes: recording them and answering `changed` / `left` between tokens. */
export class DeviceListService {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;
  readonly #ranges = new RangeCache();
  readonly #listeners: DeviceListListener[] = [];

  constructor(ctx: ServerContext, rooms: RoomService) {
    this.#ctx = ctx;
    this.#rooms = rooms;
  }

  /**
   * Records a change of `userId`'s device list inside `tx` and returns its stream position,
   * announced (a broadcast) in `tx`'s after-commit hook: right after COMMIT, under the write
   * lock, so no later commit (a room event) is announced first and a sync woken by it cannot
   * hand out a token past this change without returning it. `device` names the changed device
   * (federation sends one `m.device_list_update` per changed device).
   */
  async markChanged(tx: SqlExecutor, userId: string, device?: ChangedDevice): Promise<number> {
    const position = await nextStreamPosition(tx);
    await insertDeviceListChange(tx, userId, position);
    for (const listener of this.#listeners) await listener(tx, userId, device);
    tx.afterCommit(() => this.#ctx.notifier.notify(position));
    return position;
  }

  /**
   * Subscribes to device-list changes, inside their write transaction (federation queues
   * `m.device_list_update` EDUs for local users' changes).
   */
  onChanged(listener: DeviceListListener): void {
    this.#listeners.push(listener);
  }

  /**
   * Spec "Extensions to /sync": users (sharing a room with `userId`) whose devices changed in
   * (`from`, `to`], or who started sharing a room with `userId` then; and users with whom
   * `userId` shared a room that was left in that range and who now share none.
   */
  async changesBetween(userId: string, from: number, to: number): Promise<DeviceListChanges> {
    if (to <= from) return { changed: [], left: [] };
    const db = this.#ctx.db;
    const changedUsers = await this.#ranges.get('users', from, to, () =>
      usersChangedBetween(db, from, to),
    );
    const memberChanges = await this.memberChangesBetween(from, to);
    // The common case of a woken sync: nothing device- or membership-related happened at all.
    if (changedUsers.length === 0 && memberChanges.length === 0) return { changed: [], left: [] };
    const myRooms = await roomsWithMembershipOf(db, userId);
    const relevant = memberChanges.filter((change) => myRooms.has(change.roomId));
    if (changedUsers.length === 0 && relevant.length === 0) return { changed: [], left: [] };
    const sharing = new Set(await this.#rooms.usersSharingRoomsWith(userId));
    sharing.add(userId);
    const changed = new Set(changedUsers.filter((user) => sharing.has(user)));
    const leftCandidates = new Set<string>();
    const joinedRoomsOfMine = new Set<string>();
    const roomsLeftByMe = new Set<string>();
    for (const change of relevant) {
      const joined = change.membership === 'join';
      const gone = change.membership === 'leave' || change.membership === 'ban';
      if (change.target === userId) {
        if (joined) {
          joinedRoomsOfMine.add(change.roomId);
          roomsLeftByMe.delete(change.roomId);
        } else if (gone) {
          roomsLeftByMe.add(change.roomId);
          joinedRoomsOfMine.delete(change.roomId);
        }
      } else if (joined) {
        changed.add(change.target);
      } else if (gone) {
        leftCandidates.add(change.target);
      }
    }
    // Joining a room starts sharing it with all its members; leaving one may stop it.
    for (const roomId of joinedRoomsOfMine) {
      for (const member of await this.#rooms.members(roomId)) changed.add(member);
    }
    for (const roomId of roomsLeftByMe) {
      for (const member of await this.#rooms.members(roomId)) leftCandidates.add(member);
    }
    const left = [...leftCandidates].filter((user) => !sharing.has(user) && user !== userId);
    return {
      changed: [...changed].filter((user) => sharing.has(user)).sort(),
      left: left.sort(),
    };
  }

  /** Every membership change in (`from`, `to`] (shared with the sync service's room logic). */
  memberChangesBetween(from: number, to: number): Promise<MemberChangeRow[]> {
    return this.#ranges.get('members', from, to, () =>
      memberChangesBetween(this.#ctx.db, from, to),
    );
  }
}
