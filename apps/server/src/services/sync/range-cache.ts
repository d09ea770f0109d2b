/**
 * A cache of answers about a committed stream range (`from`, `to`]. Everything in such a range is
 * immutable once `to` is committed (writers take positions inside their transactions, which
 * commit in order), so answers never go stale; only memory bounds the cache. Used by the
 * device-list service; `/sync` itself stopped using it (with keyed wake-ups few long-polls share
 * a range, and entries holding whole initial-sync answers weighed tens of MiB).
 */
export class RangeCache {
  readonly #entries = new Map<string, Promise<unknown>>();
  readonly #capacity: number;

  constructor(capacity = 512) {
    this.#capacity = capacity;
  }

  /** The answer for (`kind`, `from`, `to`), loading it once. A failed load is not kept. */
  get<T>(kind: string, from: number, to: number, load: () => Promise<T>): Promise<T> {
    const key = `${kind}:${from}:${to}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit as Promise<T>;
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    const loading = load();
    this.#entries.set(key, loading);
    loading.catch(() => this.#entries.delete(key));
    return loading;
  }
}
