/** TokenBucketRateLimiter with an injected clock (client-server API "Rate limiting"). */

import { TokenBucketRateLimiter } from '@weft/transport';
import { describe, expect, it } from 'vitest';

describe('TokenBucketRateLimiter', () => {
  it('allows a burst, then says how long until the next token', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ burst: 3, perSecond: 2, now: () => now });
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 500 });
    now = 250;
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 250 });
    now = 500;
    expect(limiter.take('a')).toEqual({ allowed: true });
    expect(limiter.take('a').allowed).toBe(false);
  });

  it('keeps one bucket per key', () => {
    const limiter = new TokenBucketRateLimiter({ burst: 1, perSecond: 1, now: () => 0 });
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('b').allowed).toBe(true);
  });

  it('refills to burst at most, and a refused request takes nothing', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({ burst: 2, perSecond: 1, now: () => now });
    limiter.take('a');
    limiter.take('a');
    for (let i = 0; i < 5; i++) expect(limiter.take('a').allowed).toBe(false);
    now = 1000;
    expect(limiter.take('a').allowed).toBe(true);
    now = 100_000;
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, false]);
  });

  it('charges a cost and refuses more than it has', () => {
    const limiter = new TokenBucketRateLimiter({ burst: 10, perSecond: 10, now: () => 0 });
    expect(limiter.take('a', 8).allowed).toBe(true);
    expect(limiter.take('a', 5)).toEqual({ allowed: false, retryAfterMs: 300 });
    expect(() => limiter.take('a', 11)).toThrow(RangeError);
    expect(() => limiter.take('a', 0)).toThrow(RangeError);
  });

  it('does not refill when the clock goes backwards', () => {
    let now = 10_000;
    const limiter = new TokenBucketRateLimiter({ burst: 1, perSecond: 1, now: () => now });
    limiter.take('a');
    now = 0;
    expect(limiter.take('a').allowed).toBe(false);
    now = 10_999;
    expect(limiter.take('a').allowed).toBe(false);
    now = 11_000;
    expect(limiter.take('a').allowed).toBe(true);
  });

  it('bounds memory: full buckets are dropped first, then the oldest', () => {
    let now = 0;
    const limiter = new TokenBucketRateLimiter({
      burst: 1,
      perSecond: 1,
      maxKeys: 3,
      now: () => now,
    });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c');
    expect(limiter.size).toBe(3);
    limiter.take('d');
    expect(limiter.size).toBe(3);
    // 'a' (oldest, still empty) was dropped, so it is allowed again; 'c' was kept and is limited.
    expect(limiter.take('c').allowed).toBe(false);
    now = 5000;
    limiter.take('e');
    // Everything had refilled: the sweep dropped all full buckets.
    expect(limiter.size).toBe(1);
  });

  it('checks its options', () => {
    expect(() => new TokenBucketRateLimiter({ burst: 0, perSecond: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketRateLimiter({ burst: 1, perSecond: 0 })).toThrow(RangeError);
    expect(() => new TokenBucketRateLimiter({ burst: 1, perSecond: 1, maxKeys: 0 })).toThrow(
      RangeError,
    );
    const limiter = new TokenBucketRateLimiter({ burst: 1, perSecond: 1 });
    expect(() => limiter.take(5 as unknown as string)).toThrow(TypeError);
  });
});
