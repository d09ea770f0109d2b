/** The access-token cache on SQLite, and the cache's own bound and race guard. */
import { describe, expect, it } from 'vitest';

import { AccessTokenCache } from '../src/services/accounts/token-cache.ts';
import { tokenCacheSuite } from './accounts-token-cache-suite.ts';

tokenCacheSuite(() => ({}));

describe('AccessTokenCache', () => {
  const entry = (userId: string) => ({ user: { userId, deviceId: 'D' }, lastSeenTs: 0 });

  it('keeps at most its bound, evicting the least recently used', () => {
    const cache = new AccessTokenCache(2);
    cache.remember('a', entry('@a:x'), cache.generation);
    cache.remember('b', entry('@b:x'), cache.generation);
    cache.get('a');
    cache.remember('c', entry('@c:x'), cache.generation);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.user.userId).toBe('@a:x');
    expect(cache.get('c')?.user.userId).toBe('@c:x');
  });

  it('drops an answer read before a forgetUser (a lookup racing a logout)', () => {
    const cache = new AccessTokenCache();
    const before = cache.generation;
    cache.forgetUser('@a:x');
    cache.remember('a', entry('@a:x'), before);
    expect(cache.get('a')).toBeUndefined();
    cache.remember('a', entry('@a:x'), cache.generation);
    expect(cache.get('a')?.user.userId).toBe('@a:x');
  });

  it('forgetUser removes only that user', () => {
    const cache = new AccessTokenCache();
    cache.remember('a1', entry('@a:x'), cache.generation);
    cache.remember('a2', entry('@a:x'), cache.generation);
    cache.remember('b', entry('@b:x'), cache.generation);
    cache.forgetUser('@a:x');
    expect(cache.get('a1')).toBeUndefined();
    expect(cache.get('a2')).toBeUndefined();
    expect(cache.get('b')?.user.userId).toBe('@b:x');
  });
});
