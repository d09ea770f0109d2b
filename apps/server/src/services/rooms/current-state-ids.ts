/**
 * The current state's event IDs that building an event asks for — the create event and the auth
 * selection (power levels, join rules, the sender's membership) — kept in memory per room and
 * state group: every send read the same 3–4 entries of `room_current_state` (≈ 24 µs of the
 * main thread a send, record "session 20" in ARCHITECTURE.md).
 *
 * An entry is valid for the state group it was read at. In a room this server is in, every
 * change to `room_current_state` moves the room's `current_state_group` in the same transaction
 * (persist-event.ts, federation's persist-remote.ts and store-remote-room.ts); the writers that
 * change it without a group (federation's receive-invite.ts, remote-knock.ts, remote-leave.ts)
 * do so only for rooms whose group is NULL, and those are never kept. As in joined-members.ts,
 * what a write read is kept only once it has committed (`afterCommit`): the ID of a group
 * written by a write that rolls back may be reused by SQLite for a different state.
 */
import { stateKeyOf } from '@weft/dag';

import { LruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { currentStateEventIds, type RoomRow } from './room-store.ts';

/** Rooms kept. */
const MAX_ROOMS = 10_000;
/**
 * Entries kept per room: its senders' member events are among them, so a big room with many
 * senders starts again from the entries last read rather than growing without bound.
 */
const MAX_KEYS_PER_ROOM = 256;

interface Entry {
  readonly stateGroup: number;
  /** `stateKeyOf(type, state_key)` → event ID, or `null` where the state has no such entry. */
  readonly ids: Map<string, string | null>;
}

export class CurrentStateIdsCache {
  readonly #rooms = new LruMap<string, Entry>(MAX_ROOMS);

  /**
   * The event IDs of `keys` in `room`'s current state, by `stateKeyOf(type, state_key)` (absent
   * entries left out), as `db` sees it; `room` must have been read through `db` in the same
   * transaction, so its `currentStateGroup` is the state `db` reads.
   */
  async lookup(
    db: SqlExecutor,
    room: RoomRow,
    keys: ReadonlyArray<readonly [type: string, stateKey: string]>,
  ): Promise<Map<string, string>> {
    const group = room.currentStateGroup;
    if (group === null) return currentStateEventIds(db, room.roomId, keys);
    const entry = this.#rooms.get(room.roomId);
    if (entry?.stateGroup === group) {
      const kept = keptIds(entry, keys);
      if (kept !== undefined) return kept;
    }
    const ids = await currentStateEventIds(db, room.roomId, keys);
    db.afterCommit(() => this.#remember(room.roomId, group, keys, ids));
    return ids;
  }

  #remember(
    roomId: string,
    stateGroup: number,
    keys: ReadonlyArray<readonly [type: string, stateKey: string]>,
    ids: ReadonlyMap<string, string>,
  ): void {
    let entry = this.#rooms.get(roomId);
    if (entry?.stateGroup !== stateGroup || entry.ids.size + keys.length > MAX_KEYS_PER_ROOM) {
      entry = { stateGroup, ids: new Map() };
      this.#rooms.set(roomId, entry);
    }
    for (const [type, stateKey] of keys) {
      const key = stateKeyOf(type, stateKey);
      entry.ids.set(key, ids.get(key) ?? null);
    }
  }
}

/** `keys` from `entry`, or `undefined` if it does not hold them all. */
function keptIds(
  entry: Entry,
  keys: ReadonlyArray<readonly [type: string, stateKey: string]>,
): Map<string, string> | undefined {
  const out = new Map<string, string>();
  for (const [type, stateKey] of keys) {
    const key = stateKeyOf(type, stateKey);
    const id = entry.ids.get(key);
    if (id === undefined) return undefined;
    if (id !== null) out.set(key, id);
  }
  return out;
}
