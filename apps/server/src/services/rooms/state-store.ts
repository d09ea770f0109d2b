/**
 * Room state snapshots as state groups stored by delta: a group holds only the entries that
 * differ from its `prev_group`, so a state event in a 30,000-member room writes one row, not
 * 30,000. After `MAX_CHAIN` deltas a full snapshot is written so reads walk a bounded chain.
 * Resolved groups are cached (only after commit: a group read inside a write transaction may
 * still roll back, and SQLite may then reuse its ID).
 */
import { parseStateKey, stateKeyOf } from '@weft/dag';

import { LruMap } from '../../lru-map.ts';
import type { SqlExecutor } from '../../storage/index.ts';
import type { RoomState } from './types.ts';

const MAX_CHAIN = 64;
/** Cached state entries in total (groups are weighed in entries: one big room's state weighs as much as many small). */
const CACHE_ENTRIES = 100_000;

export class StateStore {
  readonly #cache = new LruMap<number, RoomState>(CACHE_ENTRIES);

  /** The full state of `groupId` (`stateKeyOf(type, stateKey)` → event ID). */
  async get(db: SqlExecutor, groupId: number, cache = true): Promise<RoomState> {
    const hit = this.#cache.get(groupId);
    if (hit !== undefined) return hit;
    // Walk back to the nearest cached group or full snapshot, then apply deltas oldest first.
    const chain: number[] = [];
    let base: RoomState | undefined;
    let current: number | null = groupId;
    while (current !== null) {
      const cached = this.#cache.get(current);
      if (cached !== undefined) {
        base = cached;
        break;
      }
      chain.push(current);
      const row: { prev_group: number | null } | undefined = await db.queryOne<{
        prev_group: number | null;
      }>('SELECT prev_group FROM state_groups WHERE group_id = $1', [current]);
      if (row === undefined) throw new Error(`state group ${current} missing`);
      current = row.prev_group === null ? null : Number(row.prev_group);
    }
    const state = new Map(base ?? []);
    for (const id of chain.reverse()) {
      const rows = await db.query<{ type: string; state_key: string; event_id: string }>(
        'SELECT type, state_key, event_id FROM state_group_entries WHERE group_id = $1',
        [id],
      );
      for (const row of rows) state.set(stateKeyOf(row.type, row.state_key), row.event_id);
    }
    if (cache) this.#remember(groupId, state);
    return state;
  }

  #remember(groupId: number, state: RoomState): void {
    // A state bigger than the whole bound is still kept, alone (rebuilding it per read costs more).
    if (!this.#cache.has(groupId)) {
      this.#cache.set(groupId, state, Math.min(state.size, CACHE_ENTRIES));
    }
  }

  /**
   * Stores the state `prevGroup` + `delta` as a new group and returns its ID. `delta` maps state
   * keys to event IDs (state is never removed in room versions 10–12, only replaced).
   */
  async create(
    tx: SqlExecutor,
    roomId: string,
    prevGroup: number | null,
    delta: RoomState,
  ): Promise<number> {
    let chainLength = 0;
    let entries: RoomState = delta;
    let prev: number | null = prevGroup;
    if (prevGroup !== null) {
      const row = await tx.queryOne<{ chain_length: number }>(
        'SELECT chain_length FROM state_groups WHERE group_id = $1',
        [prevGroup],
      );
      chainLength = Number(row?.chain_length ?? 0) + 1;
      if (chainLength >= MAX_CHAIN) {
        // A full snapshot bounds the chain that reads walk.
        entries = new Map([...(await this.get(tx, prevGroup, false)), ...delta]);
        chainLength = 0;
        prev = null;
      }
    }
    const inserted = await tx.queryOne<{ group_id: number }>(
      'INSERT INTO state_groups (room_id, prev_group, chain_length) VALUES ($1, $2, $3) RETURNING group_id',
      [roomId, prev, chainLength],
    );
    if (inserted === undefined) throw new Error('state group insert returned nothing');
    const groupId = Number(inserted.group_id);
    for (const [key, eventId] of entries) {
      const { type, stateKey } = parseStateKey(key);
      await tx.execute(
        'INSERT INTO state_group_entries (group_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)',
        [groupId, type, stateKey, eventId],
      );
    }
    return groupId;
  }
}
