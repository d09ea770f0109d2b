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
 * do so only for rooms whose group is NULL, checked in their transaction, and those are never
 * kept. (One difference from a fresh read is left: state resolution never deletes a key from
 * `room_current_state` that the resolved state lacks, so a room that moves back to an older
 * group can hold a newer row for such a key than an entry kept at that group; the key is absent
 * from the group either way, and the auth selection's keys — create, power levels, join rules,
 * a member — are never dropped by resolution.) As in joined-members.ts, what a write read is
 * kept only once it has committed (`afterCommit`): the ID of a group written by a write that
 * rolls back may be reused by SQLite for a different state.
 */
import { stateKeyOf } from '@weft/dag';

import { LruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import { currentStateEventIds, type RoomRow } from './room-store.ts';

/** Entries kept in all (a room weighs as many as it holds). */
const MAX_KEYS = 50_000;
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
  readonly #rooms = new LruMap<string, Entry>(MAX_KEYS);

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
    }
    const size = entry.ids.size;
    for (const [type, stateKey] of keys) {
      const key = stateKeyOf(type, stateKey);
      entry.ids.set(key, ids.get(key) ?? null);
    }
    // Stored, or weighed again as it grew.
    if (entry.ids.size !== size) this.#rooms.set(roomId, entry, entry.ids.size);
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
