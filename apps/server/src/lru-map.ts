/**
 * A map bounded to `max` entries that drops a least recently used one when full: the caches of
 * prepared statements and of access tokens. It is the "second chance" (CLOCK) approximation of
 * LRU: a hit only marks its entry as used, and eviction walks from the oldest entry, moving each
 * marked one to the newest end (unmarked) until it finds an unmarked one to drop. A true LRU
 * moved every hit to the end of the `Map` (a delete and an insert): on the send path, where each
 * statement lookup is a hit, that was ≈ 2% of the CPU.
 */
interface Slot<V> {
  value: V;
  used: boolean;
}

export class LruMap<K, V> {
  readonly #max: number;
  // Insertion order is age order: eviction looks at the front.
  readonly #entries = new Map<K, Slot<V>>();

  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max > 0)) {
      throw new RangeError('an LRU map bound must be a positive integer');
    }
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `key`, marked as used (it survives the next eviction that reaches it). */
  get(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  /** Stores `value` as the newest entry, dropping a least recently used one if full. */
  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, used: false });
    while (this.#entries.size > this.#max) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [K, Slot<V>];
      this.#entries.delete(oldestKey);
      if (oldest.used || oldestKey === key) {
        // Used since it was last looked at (or the entry being stored, after a full pass): a
        // second chance at the newest end. A pass clears every mark, so the loop ends.
        oldest.used = false;
        this.#entries.set(oldestKey, oldest);
      }
    }
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Every entry, oldest first (deleting while iterating is safe). */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.#entries) yield [key, slot.value];
  }
}
