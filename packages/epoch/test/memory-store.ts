/** An in-memory {@link RoomKeyStore} for tests: a Map that really forgets on `delete`. */
import type { RoomKeyStore, StoredRoomKey } from '@weft/epoch';

export class MemoryKeyStore implements RoomKeyStore {
  readonly #keys = new Map<string, StoredRoomKey>();

  get(roomId: string, sessionId: string): StoredRoomKey | undefined {
    return this.#keys.get(`${roomId}|${sessionId}`);
  }

  put(key: StoredRoomKey): void {
    this.#keys.set(`${key.roomId}|${key.sessionId}`, key);
  }

  delete(roomId: string, sessionId: string): void {
    this.#keys.delete(`${roomId}|${sessionId}`);
  }

  list(roomId: string): StoredRoomKey[] {
    return [...this.#keys.values()].filter((k) => k.roomId === roomId);
  }

  /** Every session ID held, across rooms. */
  sessionIds(): Set<string> {
    return new Set([...this.#keys.values()].map((k) => k.sessionId));
  }
}
