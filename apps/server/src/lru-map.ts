/**
 * A map bounded to `max` entries — or, where entries differ in size, to a total weight — that
 * drops least recently used ones when full: the caches of prepared statements, access tokens,
 * parsed filters, events (weighed in estimated heap bytes), rooms' joined members (weighed in
 * members) and state groups (weighed in entries), and through `NestedLruMap` the unread and
 * one-time-key counts. It is the "second chance" (CLOCK) approximation of LRU: a hit only marks
 * its entry as used, and eviction walks from the oldest entry, moving each marked one to the
 * newest end (unmarked) until it finds an unmarked one to drop. A true LRU
 * moved every hit to the end of the `Map` (a delete and an insert): on the send path, where each
 * statement lookup is a hit, that was ≈ 2% of the CPU.
 */
interface Slot<V> {
  value: V;
  readonly weight: number;
  used: boolean;
}

export class LruMap<K, V> {
  readonly #max: number;
  // Insertion order is age order: eviction looks at the front.
  readonly #entries = new Map<K, Slot<V>>();
  #weight = 0;

  /** `max`: the bound on the entries' total weight (an entry weighs 1 unless `set` says otherwise). */
  constructor(max: number) {
    if (!(Number.isSafeInteger(max) && max > 0)) {
      throw new RangeError('an LRU map bound must be a positive integer');
    }
    this.#max = max;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The entries' total weight. */
  get weight(): number {
    return this.#weight;
  }

  /** The entry for `key`, marked as used (it survives the next eviction that reaches it). */
  get(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  /** Whether `key` has an entry (without marking it as used). */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /**
   * Stores `value` as the newest entry, dropping least recently used ones until the total weight
   * is within the bound. An entry heavier than the whole bound is not kept (nor are others
   * dropped for it): returns false, and `key` then has no entry.
   */
  set(key: K, value: V, weight = 1): boolean {
    if (!(weight >= 0 && Number.isFinite(weight))) {
      throw new RangeError('an LRU map weight must be a non-negative number');
    }
    this.delete(key);
    if (weight > this.#max) return false;
    this.#entries.set(key, { value, weight, used: false });
    this.#weight += weight;
    while (this.#weight > this.#max) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [K, Slot<V>];
      this.#entries.delete(oldestKey);
      if (oldest.used || oldestKey === key) {
        // Used since it was last looked at (or the entry being stored, after a full pass): a
        // second chance at the newest end. A pass clears every mark, so the loop ends.
        oldest.used = false;
        this.#entries.set(oldestKey, oldest);
      } else {
        this.#weight -= oldest.weight;
      }
    }
    return true;
  }

  delete(key: K): boolean {
    const slot = this.#entries.get(key);
    if (slot === undefined) return false;
    this.#entries.delete(key);
    this.#weight -= slot.weight;
    return true;
  }

  /** Every entry, oldest first (deleting while iterating is safe). */
  *entries(): IterableIterator<[K, V]> {
    for (const [key, slot] of this.#entries) yield [key, slot.value];
  }
}

/**
 * Values by an outer key, then an inner one: an {@link LruMap} of maps, each weighing as many
 * entries as it holds, so outer entries go least recently used first with everything they hold.
 * Two map lookups instead of one by a string joined from both keys: such a string, built for each
 * lookup, is hashed and compared anew every time (record "session 20 — unread counts kept by
 * room, then user" in ARCHITECTURE.md). An outer entry is not trimmed inner entry by inner
 * entry: one that would grow past `maxPerOuter` starts again from the entry being stored.
 */
export class NestedLruMap<K, J, V> {
  readonly #outer: LruMap<K, Map<J, V>>;
  readonly #maxPerOuter: number;

  /** `max`: the bound on inner entries in all; `maxPerOuter`: on those of one outer key. */
  constructor(max: number, maxPerOuter = max) {
    if (!(Number.isSafeInteger(maxPerOuter) && maxPerOuter > 0)) {
      throw new RangeError('a per-key bound must be a positive integer');
    }
    this.#outer = new LruMap(max);
    this.#maxPerOuter = maxPerOuter;
  }

  get(outer: K, inner: J): V | undefined {
    return this.#outer.get(outer)?.get(inner);
  }

  /** The entries of `outer` (marked as used), to read several of them with one outer lookup. */
  entriesOf(outer: K): ReadonlyMap<J, V> | undefined {
    return this.#outer.get(outer);
  }

  set(outer: K, inner: J, value: V): void {
    const entries = this.#outer.get(outer);
    const added = entries?.has(inner) !== true;
    if (entries === undefined || (added && entries.size >= this.#maxPerOuter)) {
      this.#outer.set(outer, new Map([[inner, value]]));
      return;
    }
    entries.set(inner, value);
    // Weighed again as it grows (one heavier than the whole bound is not kept).
    if (added) this.#outer.set(outer, entries, entries.size);
  }

  delete(outer: K, inner: J): boolean {
    const entries = this.#outer.get(outer);
    if (entries?.delete(inner) !== true) return false;
    if (entries.size === 0) this.#outer.delete(outer);
    else this.#outer.set(outer, entries, entries.size);
    return true;
  }

  /** Inner entries in all. */
  get size(): number {
    return this.#outer.weight;
  }
}
