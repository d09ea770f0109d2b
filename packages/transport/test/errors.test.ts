/**
 * MatrixError: the client-server API's "Standard error response" (errcode + error + extra keys),
 * its "Common error codes" and "Rate limiting"; TransportError's marker and context.
 */

import { get } from 'node:http';

import {
  ErrCode,
  jsonResponse,
  MatrixError,
  matrixErrorAnswer,
  matrixErrorResponse,
  TransportError,
  toMatrixError,
} from '@weft/transport';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';

import { listen } from './serve.ts';

describe('MatrixError', () => {
  it('serialises to { errcode, error, ...extra } and never lets extra override them', () => {
    const error = new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION', 'Unsupported', {
      extra: { room_version: '1', errcode: 'M_EVIL', error: 'evil' },
    });
    expect(error.toJSON()).toEqual({
      errcode: 'M_INCOMPATIBLE_ROOM_VERSION',
      error: 'Unsupported',
      room_version: '1',
    });
    expect(error.extra).toEqual({ room_version: '1' });
    expect(Object.isFrozen(error.extra)).toBe(true);
  });

  it('has the spec status and errcode for each helper', () => {
    const cases: [MatrixError, number, string][] = [
      [MatrixError.badJson(), 400, ErrCode.BAD_JSON],
      [MatrixError.notJson(), 400, ErrCode.NOT_JSON],
      [MatrixError.forbidden(), 403, ErrCode.FORBIDDEN],
      [MatrixError.missingToken(), 401, ErrCode.MISSING_TOKEN],
      [MatrixError.unknownToken(), 401, ErrCode.UNKNOWN_TOKEN],
      [MatrixError.unauthorized(), 401, ErrCode.UNAUTHORIZED],
      [MatrixError.notFound(), 404, ErrCode.NOT_FOUND],
      [MatrixError.unrecognized(), 404, ErrCode.UNRECOGNIZED],
      [MatrixError.unrecognized(405), 405, ErrCode.UNRECOGNIZED],
      [MatrixError.limitExceeded(10), 429, ErrCode.LIMIT_EXCEEDED],
      [MatrixError.tooLarge(), 413, ErrCode.TOO_LARGE],
      [MatrixError.invalidParam(), 400, ErrCode.INVALID_PARAM],
      [MatrixError.missingParam(), 400, ErrCode.MISSING_PARAM],
      [MatrixError.unknown(), 500, ErrCode.UNKNOWN],
    ];
    for (const [error, status, errcode] of cases) {
      expect([error.status, error.errcode]).toEqual([status, errcode]);
      expect(error.toJSON().error).toBe(error.message);
    }
  });

  it('unknownToken carries soft_logout (default false)', () => {
    expect(MatrixError.unknownToken().toJSON()['soft_logout']).toBe(false);
    const soft = MatrixError.unknownToken('expired', { softLogout: true });
    expect(soft.toJSON()['soft_logout']).toBe(true);
    expect(soft.softLogout).toBe(true);
  });

  it('limitExceeded sets retry_after_ms and a Retry-After header rounded up to seconds', () => {
    const error = MatrixError.limitExceeded(1500.2);
    expect(error.retryAfterMs).toBe(1501);
    expect(error.headers).toEqual({ 'Retry-After': '2' });
    expect(MatrixError.limitExceeded(0).headers).toEqual({ 'Retry-After': '0' });
    expect(() => MatrixError.limitExceeded(-1)).toThrow(RangeError);
  });

  it('rejects a status outside 400..599 and an empty errcode', () => {
    expect(() => new MatrixError(200, 'M_UNKNOWN', 'x')).toThrow(RangeError);
    expect(() => new MatrixError(600, 'M_UNKNOWN', 'x')).toThrow(RangeError);
    expect(() => new MatrixError(400, '', 'x')).toThrow(TypeError);
  });

  it('fromResponse reads errcode, error and extras; falls back to M_UNKNOWN', () => {
    const limited = MatrixError.fromResponse(
      429,
      { errcode: 'M_LIMIT_EXCEEDED', error: 'slow', retry_after_ms: 20 },
      new Headers({ 'Retry-After': '1' }),
    );
    expect(limited).toMatchObject({ status: 429, errcode: 'M_LIMIT_EXCEEDED', message: 'slow' });
    expect(limited.retryAfterMs).toBe(20);
    expect(limited.headers).toEqual({ 'Retry-After': '1' });
    expect(MatrixError.fromResponse(502, undefined)).toMatchObject({
      status: 502,
      errcode: 'M_UNKNOWN',
    });
    expect(MatrixError.fromResponse(400, [1])).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(MatrixError.fromResponse(400, { errcode: 5 })).toMatchObject({ errcode: 'M_UNKNOWN' });
    expect(MatrixError.fromResponse(200, {}).status).toBe(500);
    expect(
      MatrixError.fromResponse(429, { errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: -5 })
        .retryAfterMs,
    ).toBeUndefined();
  });

  it('isInstance recognises the marker, not look-alikes', () => {
    const error = MatrixError.forbidden();
    expect(MatrixError.isInstance(error)).toBe(true);
    expect(MatrixError.isInstance(new Error('M_FORBIDDEN'))).toBe(false);
    expect(MatrixError.isInstance({ errcode: 'M_FORBIDDEN', status: 403 })).toBe(false);
    expect(MatrixError.isInstance(null)).toBe(false);
    expect(TransportError.isInstance(error)).toBe(false);
    // A copy from another install carries the same registry symbol.
    const foreign = { [Symbol.for('weft.transport.matrix-error')]: true };
    expect(MatrixError.isInstance(foreign)).toBe(true);
  });

  it('matrixErrorResponse sends JSON, the status and the extra headers', async () => {
    const response = matrixErrorResponse(MatrixError.limitExceeded(2500));
    expect(response.status).toBe(429);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(JSON.parse(await response.text())).toEqual({
      errcode: 'M_LIMIT_EXCEEDED',
      error: 'Too many requests',
      retry_after_ms: 2500,
    });
  });

  it('matrixErrorAnswer gives the same status, merged headers and body as plain parts', () => {
    const answer = matrixErrorAnswer(MatrixError.limitExceeded(2500), {
      'Access-Control-Allow-Origin': '*',
      'retry-after': '99',
      'content-type': 'text/plain',
    });
    expect(answer.status).toBe(429);
    // Names merge in any letter case: the error's Retry-After and the JSON type replace the base's.
    const lower = Object.fromEntries(
      Object.entries(answer.headers).map(([name, value]) => [name.toLowerCase(), value]),
    );
    expect(lower).toEqual({
      'access-control-allow-origin': '*',
      'retry-after': '3',
      'content-type': 'application/json',
    });
    expect(JSON.parse(answer.body)).toEqual({
      errcode: 'M_LIMIT_EXCEEDED',
      error: 'Too many requests',
      retry_after_ms: 2500,
    });
  });

  it('matrixErrorResponse adds base headers; the error headers and the JSON content type win', () => {
    const response = matrixErrorResponse(MatrixError.limitExceeded(2500), {
      'Access-Control-Allow-Origin': '*',
      'Retry-After': '99',
      'Content-Type': 'text/plain',
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  it('matrixErrorResponse merges header names that differ only in letter case', () => {
    const error = new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Slow down', {
      headers: { 'retry-after': '3', 'ACCESS-CONTROL-ALLOW-ORIGIN': 'https://app.example' },
    });
    const response = matrixErrorResponse(error, {
      'Retry-After': '99',
      'Access-Control-Allow-Origin': '*',
      'content-type': 'text/plain',
    });
    // One value each (a `Headers` object joins same-named fields with ", ").
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('content-type')).toBe('application/json');
  });

  it('sends each header field once over HTTP when names differ only in letter case', async () => {
    const error = new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Slow down', {
      headers: { 'retry-after': '3' },
    });
    const server = await listen(() =>
      matrixErrorResponse(error, { 'Retry-After': '99', 'CONTENT-TYPE': 'text/plain' }),
    );
    try {
      const rawHeaders = await new Promise<string[]>((resolve, reject) => {
        get(server.url, (response) => {
          response.resume();
          resolve(response.rawHeaders);
        }).once('error', reject);
      });
      const fields = (name: string) =>
        rawHeaders.flatMap((value, i) =>
          i % 2 === 1 && rawHeaders[i - 1]?.toLowerCase() === name ? [value] : [],
        );
      expect(fields('retry-after')).toEqual(['3']);
      expect(fields('content-type')).toEqual(['application/json']);
    } finally {
      await server.close();
    }
  });

  it('jsonResponse keeps one JSON content type whatever the letter case given', () => {
    const response = jsonResponse({ a: 1 }, 200, { 'content-type': 'text/html', 'X-A': '1' });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-a')).toBe('1');
  });

  it('toMatrixError maps Hono HTTPExceptions by status and leaves other errors to the 500 path', () => {
    expect(toMatrixError(new HTTPException(413))).toMatchObject({
      status: 413,
      errcode: 'M_TOO_LARGE',
    });
    expect(toMatrixError(new HTTPException(401, { message: 'secret detail' }))).toMatchObject({
      status: 401,
      errcode: 'M_UNAUTHORIZED',
      message: 'HTTP 401',
    });
    expect(toMatrixError(new HTTPException(418))).toMatchObject({
      status: 418,
      errcode: 'M_UNKNOWN',
    });
    expect(toMatrixError(new Error('x'))).toBeUndefined();
  });
});

describe('TransportError', () => {
  it('carries code, context and cause, and a marker', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new TransportError('network', 'request failed', {
      method: 'GET',
      path: '/x',
      attempts: 3,
      cause,
    });
    expect(error).toMatchObject({
      code: 'network',
      method: 'GET',
      path: '/x',
      attempts: 3,
      name: 'TransportError',
    });
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('network: request failed (GET /x)');
    expect(TransportError.isInstance(error)).toBe(true);
    expect(TransportError.isInstance(new Error('network'))).toBe(false);
    expect(MatrixError.isInstance(error)).toBe(false);
  });
});
