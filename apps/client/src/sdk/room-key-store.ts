/**
 * @weft/epoch's `RoomKeyStore` over the encrypted SQLite store. A Megolm inbound session is kept
 * as its export from its first known index (sealed at rest); `delete` erases the row, which is what
 * `forward-secret` rooms rely on (zeroed in place, the WAL truncated at the next flush), and a
 * used single-use key leaves a tombstone so it is never stored again. Live sessions are cached in memory while the store is open.
 */
import {
  type InboundGroupSession,
  type RoomKeyStore,
  ratchetMegolm,
  type StoredRoomKey,
} from '@weft/epoch';

import { checkpointed } from './checkpointed-session.ts';
import type { LocalStore } from './local-store.ts';

interface RoomKeyRecord {
  readonly senderKey: string;
  readonly senderClaimedEd25519: string;
  readonly exported: string;
  readonly sharedHistory: boolean;
  readonly singleUse: boolean;
  readonly ratchetOnUse: boolean;
}

/** A `RoomKeyStore` that persists into a {@link LocalStore}. */
export class SqliteRoomKeyStore implements RoomKeyStore {
  readonly #store: LocalStore;
  readonly #live = new Map<string, StoredRoomKey>();
  /** Called after a key is stored, so waiting events can be retried. */
  onPut: ((roomId: string, sessionId: string) => void) | undefined;

  constructor(store: LocalStore) {
    this.#store = store;
  }

  get(roomId: string, sessionId: string): StoredRoomKey | undefined {
    const cached = this.#live.get(`${roomId}|${sessionId}`);
    if (cached !== undefined) return cached;
    const record = this.#store.getRoomKey<RoomKeyRecord>(roomId, sessionId);
    if (record === undefined) return undefined;
    const session: InboundGroupSession = checkpointed(
      ratchetMegolm.inboundFromExport(record.exported),
    );
    const key: StoredRoomKey = {
      roomId,
      sessionId,
      senderKey: record.senderKey,
      senderClaimedEd25519: record.senderClaimedEd25519,
      session,
      sharedHistory: record.sharedHistory,
      singleUse: record.singleUse,
      ratchetOnUse: record.ratchetOnUse,
    };
    this.#live.set(`${roomId}|${sessionId}`, key);
    return key;
  }

  put(key: StoredRoomKey): void {
    const record: RoomKeyRecord = {
      senderKey: key.senderKey,
      senderClaimedEd25519: key.senderClaimedEd25519,
      exported: key.session.exportAt(key.session.firstKnownIndex()),
      sharedHistory: key.sharedHistory,
      singleUse: key.singleUse,
      ratchetOnUse: key.ratchetOnUse,
    };
    this.#store.putRoomKey(key.roomId, key.sessionId, record);
    this.#live.set(`${key.roomId}|${key.sessionId}`, {
      ...key,
      session: checkpointed(key.session),
    });
    this.onPut?.(key.roomId, key.sessionId);
  }

  delete(roomId: string, sessionId: string): void {
    this.#store.deleteRoomKey(roomId, sessionId);
    this.#live.delete(`${roomId}|${sessionId}`);
  }

  /** A tombstone in the store: a replayed Olm message cannot bring a deleted key back. */
  markDeleted(roomId: string, sessionId: string): void {
    this.#store.putRoomKeyTombstone(roomId, sessionId);
  }

  wasDeleted(roomId: string, sessionId: string): boolean {
    return this.#store.hasRoomKeyTombstone(roomId, sessionId);
  }

  list(roomId: string): StoredRoomKey[] {
    return this.#store
      .roomKeyIds(roomId)
      .map((id) => this.get(roomId, id))
      .filter((k): k is StoredRoomKey => k !== undefined);
  }
}
