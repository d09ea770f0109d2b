/**
 * Rate limiting with one token bucket per key (a user ID, a server name or an IP address). The
 * client-server API's "Rate limiting" section says what a refused request gets: 429
 * `M_LIMIT_EXCEEDED`, `retry_after_ms` (deprecated, MAY) and a `Retry-After` header (SHOULD);
 * {@link MatrixError.limitExceeded} builds that answer.
 */

/** Options of {@link TokenBucketRateLimiter}. */
export interface TokenBucketOptions {
  /** Bucket size: how many requests may come in a burst. Positive. */
  readonly burst: number;
  /** Refill rate, in requests per second. Positive. */
  readonly perSecond: number;
  /**
   * Most keys tracked at once; when exceeded, the buckets that have refilled completely are
   * dropped (they hold no information). Default 100 000.
   */
  readonly maxKeys?: number;
  /** Clock in milliseconds; default `Date.now`. Injected by tests. */
  readonly now?: () => number;
}

/** The outcome of {@link TokenBucketRateLimiter.take}. */
export type RateLimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterMs: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const ALLOWED: RateLimitDecision = Object.freeze({ allowed: true });

/**
 * A token bucket per key: each bucket holds up to `burst` tokens, refills at `perSecond`, and a
 * request takes one token (or `cost`). A refused request takes nothing, so a client that waits
 * the advertised `retryAfterMs` succeeds.
 */
export class TokenBucketRateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketOptions) {
    const { burst, perSecond } = options;
    if (!(Number.isFinite(burst) && burst > 0)) throw new RangeError('burst must be positive');
    if (!(Number.isFinite(perSecond) && perSecond > 0)) {
      throw new RangeError('perSecond must be positive');
    }
    const maxKeys = options.maxKeys ?? 100_000;
    if (!(Number.isSafeInteger(maxKeys) && maxKeys > 0)) {
      throw new RangeError('maxKeys must be a positive integer');
    }
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#maxKeys = maxKeys;
    this.#now = options.now ?? Date.now;
  }

  /** Takes `cost` tokens from `key`'s bucket if it has them; otherwise says how long to wait. */
  take(key: string, cost = 1): RateLimitDecision {
    if (typeof key !== 'string') throw new TypeError('rate limit key must be a string');
    if (!(Number.isFinite(cost) && cost > 0 && cost <= this.#burst)) {
      throw new RangeError('cost must be positive and at most burst');
    }
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now);
      bucket = { tokens: this.#burst, updatedAt: now };
      this.#buckets.set(key, bucket);
    } else {
      this.#refill(bucket, now);
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      return ALLOWED;
    }
    return { allowed: false, retryAfterMs: Math.ceil((cost - bucket.tokens) / this.#perMs) };
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(bucket: Bucket, now: number): void {
    // A clock that goes backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#perMs);
    bucket.updatedAt = Math.max(bucket.updatedAt, now);
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      this.#refill(bucket, now);
      if (bucket.tokens >= this.#burst) this.#buckets.delete(key);
    }
    // Still full of active keys: drop the oldest (Map keeps insertion order) to bound memory.
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size < this.#maxKeys) break;
      this.#buckets.delete(key);
    }
  }
}
