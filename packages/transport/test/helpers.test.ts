/**
 * Small helpers: Retry-After parsing (RFC 9110 §10.2.3), the backoff formula, access-token
 * extraction (client-server API "Using access tokens"), constantTimeEqual and matrixPath.
 */

import {
  backoffDelay,
  constantTimeEqual,
  extractAccessToken,
  MatrixError,
  matrixPath,
  parseRetryAfter,
} from '@weft/transport';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates, and ignores junk', () => {
    const now = Date.UTC(2026, 10, 29, 0, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 29 Nov 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sat, 28 Nov 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('stays within [ceiling/2, ceiling] and the ceiling doubles up to maxDelayMs', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 5000, maxRetryAfterMs: 0 };
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, r) => {
          const ceiling = Math.min(5000, 100 * 2 ** retry);
          const delay = backoffDelay(retry, policy, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
  });
});

describe('extractAccessToken', () => {
  const request = (url: string, authorization?: string) =>
    new Request(
      url,
      authorization === undefined ? {} : { headers: { Authorization: authorization } },
    );

  it('reads Bearer and the legacy query parameter', () => {
    expect(extractAccessToken(request('http://h/x', 'Bearer abc.DEF-1_~+/='))).toBe(
      'abc.DEF-1_~+/=',
    );
    expect(extractAccessToken(request('http://h/x?access_token=q%2B1'))).toBe('q+1');
    expect(
      extractAccessToken(request('http://h/x?access_token=q'), { allowQueryParameter: false }),
    ).toBeUndefined();
    expect(extractAccessToken(request('http://h/x'))).toBeUndefined();
    expect(extractAccessToken(request('http://h/x?access_token='))).toBeUndefined();
    expect(
      extractAccessToken(request('http://h/x', 'X-Matrix origin=a,key=b,sig=c')),
    ).toBeUndefined();
  });

  it('throws M_MISSING_TOKEN for ambiguous or malformed credentials', () => {
    for (const [url, header] of [
      ['http://h/x', 'Bearer'],
      ['http://h/x', 'Bearer a b'],
      ['http://h/x?access_token=a', 'Bearer b'],
      ['http://h/x?access_token=a&access_token=a', undefined],
    ] as const) {
      let caught: unknown;
      try {
        extractAccessToken(request(url, header));
      } catch (error) {
        caught = error;
      }
      expect(MatrixError.isInstance(caught) && caught.errcode).toBe('M_MISSING_TOKEN');
    }
  });
});

describe('constantTimeEqual', () => {
  it('agrees with === on any strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(constantTimeEqual(a, b)).toBe(a === b);
        expect(constantTimeEqual(a, a)).toBe(true);
      }),
    );
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abc\u0000')).toBe(false);
    expect(() => constantTimeEqual('a', 1 as unknown as string)).toThrow(TypeError);
  });
});

describe('matrixPath', () => {
  it('encodes each value as one path segment', () => {
    const roomId = '!abc:example.org';
    const type = 'm.room/evil?x=1#f';
    expect(matrixPath`/_matrix/client/v3/rooms/${roomId}/state/${type}/`).toBe(
      '/_matrix/client/v3/rooms/!abc%3Aexample.org/state/m.room%2Fevil%3Fx%3D1%23f/',
    );
    expect(() => matrixPath`/a/${5 as unknown as string}`).toThrow(TypeError);
  });
});
