/**
 * A map bounded to `max` entries that drops the least recently used one when full: the caches
 * of prepared statements and of access tokens. A JavaScript `Map` iterates in insertion order, so
 * moving an entry to the end on each hit keeps recency order, and eviction takes the front.
 */
export class LruMap<K, V> {
  readonly #max: number;
  readonly #entries = new Map<K, V>();

  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max > 0)) {
      throw new RangeError('an LRU map bound must be a positive integer');
    }
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key`, now the most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  /** Stores `value` as the most recently used entry, dropping the least recently used if full. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Every entry, least recently used first (deleting while iterating is safe). */
  entries(): IterableIterator<[K, V]> {
    return this.#entries.entries();
  }
}
