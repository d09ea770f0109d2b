/** Accounts and auth hardening on SQLite, and the UIA password limiter's window. */
import { describe, expect, it } from 'vitest';

import { UiaPasswordLimiter } from '../src/api/client/uia.ts';
import { authHardeningSuite } from './accounts-auth-hardening-suite.ts';

authHardeningSuite(() => ({}));

describe('UiaPasswordLimiter', () => {
  it('limits after the allowed failures until the window ends; a success clears the count', () => {
    let now = 1_000;
    const limiter = new UiaPasswordLimiter(2, 10_000, () => now);
    limiter.recordFailure('@a:x');
    expect(limiter.retryAfterMs('@a:x')).toBeUndefined();
    limiter.recordFailure('@a:x');
    expect(limiter.retryAfterMs('@a:x')).toBe(10_000);
    expect(limiter.retryAfterMs('@b:x')).toBeUndefined();
    now += 4_000;
    expect(limiter.retryAfterMs('@a:x')).toBe(6_000);
    now += 6_000;
    expect(limiter.retryAfterMs('@a:x')).toBeUndefined();
    limiter.recordFailure('@a:x');
    limiter.recordSuccess('@a:x');
    limiter.recordFailure('@a:x');
    expect(limiter.retryAfterMs('@a:x')).toBeUndefined();
  });
});
