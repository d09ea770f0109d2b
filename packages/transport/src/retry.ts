/**
 * When and how long to wait before retrying a request.
 *
 * Retried: network failures, timeouts, 5xx and 429. The wait is what the server asked for when it
 * said (`retry_after_ms` in an `M_LIMIT_EXCEEDED` body, or the `Retry-After` header: CS API "Rate
 * limiting", RFC 9110 §10.2.3), else exponential backoff with jitter, so that many clients
 * failing together do not retry in lockstep.
 */

/** Retry settings of the client. */
export interface RetryOptions {
  /** Attempts in total, the first included. Default 4; 1 disables retries. */
  readonly maxAttempts?: number;
  /** Backoff before the first retry, before jitter. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Backoff ceiling. Default 30 s. */
  readonly maxDelayMs?: number;
  /**
   * Longest server-requested wait that is waited out. A longer `retry_after_ms`/`Retry-After`
   * is not retried: the error is thrown at once, carrying the requested wait. Default 60 s.
   */
  readonly maxRetryAfterMs?: number;
}

/** {@link RetryOptions} with every default filled in. */
export type RetryPolicy = Required<RetryOptions>;

/** Fills in and checks retry options. */
export function retryPolicy(options: RetryOptions | false | undefined): RetryPolicy {
  const policy: RetryPolicy = {
    maxAttempts: options === false ? 1 : (options?.maxAttempts ?? 4),
    baseDelayMs: (options || undefined)?.baseDelayMs ?? 500,
    maxDelayMs: (options || undefined)?.maxDelayMs ?? 30_000,
    maxRetryAfterMs: (options || undefined)?.maxRetryAfterMs ?? 60_000,
  };
  if (!(Number.isSafeInteger(policy.maxAttempts) && policy.maxAttempts >= 1)) {
    throw new RangeError('maxAttempts must be a positive integer');
  }
  for (const key of ['baseDelayMs', 'maxDelayMs', 'maxRetryAfterMs'] as const) {
    if (!(Number.isFinite(policy[key]) && policy[key] >= 0)) {
      throw new RangeError(`${key} must be a non-negative number`);
    }
  }
  return policy;
}

/**
 * Backoff before retry number `retry` (0 for the first retry): a ceiling of
 * `min(maxDelayMs, baseDelayMs · 2^retry)`, of which half is fixed and half random ("equal
 * jitter"), so waits grow yet never collapse to zero. `random` returns a number in [0, 1).
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const r = random();
  const jitter = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.round(ceiling / 2 + (jitter * ceiling) / 2);
}

/**
 * The wait a `Retry-After` header asks for, in milliseconds: delay-seconds, or an HTTP-date
 * relative to `now` (RFC 9110 §10.2.3). `undefined` when absent or malformed.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date) || !/[a-z]/i.test(text)) return undefined;
  return Math.max(0, date - now);
}
