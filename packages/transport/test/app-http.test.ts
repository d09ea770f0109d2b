/**
 * createMatrixApp over real HTTP on loopback: every errcode path of the client-server API's
 * "API Standards" (standard error response, common error codes, rate limiting), "Web Browser
 * Clients" (CORS) and "Using access tokens".
 */

import {
  CORS_HEADERS,
  createMatrixApp,
  type LogContext,
  MatrixError,
  TokenBucketRateLimiter,
} from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { listen, readJson, type TestServer } from './serve.ts';

interface User {
  readonly userId: string;
}

const TOKENS = new Map<string, User>([
  ['tok_alice', { userId: '@alice:example.org' }],
  ['tok_bob', { userId: '@bob:example.org' }],
]);

// What handlers throw, by name, for the errcode-over-HTTP table below.
const THROWN: Record<string, () => MatrixError> = {
  notFound: () => MatrixError.notFound('No such room'),
  invalidParam: () => MatrixError.invalidParam('limit must be an integer'),
  missingParam: () => MatrixError.missingParam('user_id is required'),
  unauthorized: () => MatrixError.unauthorized(),
  badJson: () => MatrixError.badJson(),
  notJson: () => MatrixError.notJson(),
  tooLarge: () => MatrixError.tooLarge(),
  unrecognized: () => MatrixError.unrecognized(),
  unknown503: () => MatrixError.unknown('Try later', 503),
  custom: () =>
    new MatrixError(400, 'COM.EXAMPLE_CUSTOM', 'Custom', {
      extra: { admin_contact: 'mailto:a@b' },
    }),
};

const logged: { message: string; context: LogContext }[] = [];
let clock = 1_000_000;
const limiter = new TokenBucketRateLimiter({ burst: 2, perSecond: 0.5, now: () => clock });

const app = createMatrixApp<User>({
  logger: { error: (message, context) => logged.push({ message, context }) },
  maxBodyBytes: 1024,
  authenticateToken: (token) => {
    if (token === 'tok_soft') {
      throw MatrixError.unknownToken('Token expired', { softLogout: true });
    }
    return TOKENS.get(token);
  },
  rateLimiter: limiter,
});

app
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/versions',
    auth: 'none',
    handler: () => ({ versions: ['v1.19'] }),
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/account/whoami',
    auth: 'user',
    handler: ({ user, query }) => ({ user_id: user.userId, query: [...query.keys()] }),
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/publicRooms',
    auth: 'optional-user',
    handler: ({ user }) => ({ viewer: user?.userId ?? null }),
  })
  .endpoint({
    method: 'PUT',
    path: '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId',
    auth: 'user',
    parseBody: (json) => {
      if (typeof json['body'] !== 'string') throw MatrixError.badJson('body must be a string');
      return { text: json['body'] };
    },
    handler: ({ params, body, user }) => ({
      room_id: params.roomId,
      event_type: params.eventType,
      txn_id: params.txnId,
      text: body.text,
      sender: user.userId,
    }),
  })
  .endpoint({
    method: 'POST',
    path: '/_matrix/client/v3/echo',
    auth: 'none',
    handler: ({ body }) => ({ echo: body }),
  })
  .endpoint({
    method: 'POST',
    path: '/_matrix/client/v3/rooms/:roomId/leave',
    auth: 'none',
    body: 'optional-json',
    handler: ({ body }) => ({ echo: body }),
  })
  .endpoint({
    method: 'POST',
    path: '/_matrix/client/v3/limited',
    auth: 'user',
    rateLimit: true,
    handler: () => ({}),
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/boom',
    auth: 'none',
    handler: () => {
      throw new Error('database password is hunter2');
    },
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/denied',
    auth: 'none',
    handler: () => {
      throw MatrixError.forbidden('You may not');
    },
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/throw/:kind',
    auth: 'none',
    handler: ({ params }) => {
      const make = THROWN[params.kind];
      throw make === undefined ? new Error('no such kind') : make();
    },
  })
  .endpoint({
    method: 'GET',
    path: '/_matrix/client/v3/proxy',
    auth: 'none',
    // A Response from fetch has immutable headers; CORS headers must still be added.
    handler: () => fetch(`${server.url}/_matrix/client/versions`),
  })
  .endpoint({
    method: 'POST',
    path: '/_matrix/federation/v1/legacy',
    auth: 'none',
    legacyNumbers: true,
    handler: ({ body }) => ({ kind: typeof body['n'] }),
  })
  .endpoint({
    method: 'PUT',
    path: '/_matrix/client/v3/floats',
    auth: 'none',
    floats: true,
    handler: ({ body }) => ({ body }),
  })
  .endpoint({
    method: 'PUT',
    path: '/_matrix/client/v3/floats-legacy',
    auth: 'none',
    floats: true,
    legacyNumbers: true,
    handler: ({ body }) => ({ kind: typeof body['n'] }),
  })
  .endpoint({
    method: 'POST',
    path: '/_matrix/media/v3/upload',
    auth: 'none',
    body: 'raw',
    maxBodyBytes: 4096,
    handler: ({ rawBody }) => ({ size: rawBody.byteLength }),
  });

let server: TestServer;
beforeAll(async () => {
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(server.url + path, init);
}

async function expectError(
  response: Response,
  status: number,
  errcode: string,
): Promise<Record<string, unknown>> {
  const body = await readJson(response);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(body['errcode']).toBe(errcode);
  expect(typeof body['error']).toBe('string');
  return body;
}

describe('routing (Common error codes: M_UNRECOGNIZED)', () => {
  it('serves a known endpoint with JSON and CORS headers', async () => {
    const response = await call('/_matrix/client/versions');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    for (const [name, value] of Object.entries(CORS_HEADERS)) {
      expect(response.headers.get(name)).toBe(value);
    }
    expect(await readJson(response)).toEqual({ versions: ['v1.19'] });
  });

  it('answers an unknown endpoint with 404 M_UNRECOGNIZED', async () => {
    await expectError(await call('/_matrix/client/v3/nope'), 404, 'M_UNRECOGNIZED');
    await expectError(await call('/'), 404, 'M_UNRECOGNIZED');
  });

  it('answers a known endpoint with the wrong method with 405 M_UNRECOGNIZED and Allow', async () => {
    const response = await call('/_matrix/client/versions', { method: 'POST', body: '{}' });
    await expectError(response, 405, 'M_UNRECOGNIZED');
    expect(response.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    const put = await call('/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1', {
      method: 'DELETE',
    });
    await expectError(put, 405, 'M_UNRECOGNIZED');
    expect(put.headers.get('allow')).toBe('PUT, OPTIONS');
  });

  it('serves HEAD for a GET endpoint', async () => {
    const response = await call('/_matrix/client/versions', { method: 'HEAD' });
    expect(response.status).toBe(200);
  });
});

describe('CORS (Web Browser Clients)', () => {
  it('answers a preflight with 204 and the spec headers, without auth or endpoint logic', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://app.example',
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-methods')).toBe(
      'GET, POST, PUT, DELETE, OPTIONS',
    );
    expect(response.headers.get('access-control-allow-headers')).toBe(
      'X-Requested-With, Content-Type, Authorization',
    );
    expect(await response.text()).toBe('');
  });

  it('does not run the handler for OPTIONS', async () => {
    const before = logged.length;
    const response = await call('/_matrix/client/v3/boom', { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(logged.length).toBe(before);
  });

  it('puts CORS headers on error responses too', async () => {
    const response = await call('/_matrix/client/v3/nope');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    const unauth = await call('/_matrix/client/v3/account/whoami');
    expect(unauth.status).toBe(401);
    expect(unauth.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('adds CORS headers to a proxied Response whose headers are immutable', async () => {
    const response = await call('/_matrix/client/v3/proxy');
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(await readJson(response)).toEqual({ versions: ['v1.19'] });
  });

  it('can be turned off', async () => {
    const plain = createMatrixApp({ cors: false }).endpoint({
      method: 'GET',
      path: '/x',
      auth: 'none',
      handler: () => ({}),
    });
    const response = await plain.fetch(new Request('http://h/x'));
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const options = await plain.fetch(new Request('http://h/x', { method: 'OPTIONS' }));
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('access tokens (Using access tokens)', () => {
  it('accepts a Bearer header', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'Bearer tok_alice' },
    });
    expect(response.status).toBe(200);
    expect((await readJson(response))['user_id']).toBe('@alice:example.org');
  });

  it('accepts the scheme case-insensitively', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'bearer tok_bob' },
    });
    expect((await readJson(response))['user_id']).toBe('@bob:example.org');
  });

  it('accepts the legacy access_token query parameter and hides it from the handler', async () => {
    const response = await call('/_matrix/client/v3/account/whoami?access_token=tok_bob&x=1');
    const body = await readJson(response);
    expect(response.status).toBe(200);
    expect(body['user_id']).toBe('@bob:example.org');
    expect(body['query']).toEqual(['x']);
  });

  it('401 M_MISSING_TOKEN without a token', async () => {
    await expectError(await call('/_matrix/client/v3/account/whoami'), 401, 'M_MISSING_TOKEN');
  });

  it('401 M_MISSING_TOKEN for a non-Bearer Authorization header', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'Basic dXNlcjpwYXNz' },
    });
    await expectError(response, 401, 'M_MISSING_TOKEN');
  });

  it('401 M_MISSING_TOKEN for a malformed Bearer header', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'Bearer tok alice' },
    });
    await expectError(response, 401, 'M_MISSING_TOKEN');
  });

  it('401 M_MISSING_TOKEN when header and query parameter are mixed', async () => {
    const response = await call('/_matrix/client/v3/account/whoami?access_token=tok_bob', {
      headers: { Authorization: 'Bearer tok_alice' },
    });
    await expectError(response, 401, 'M_MISSING_TOKEN');
  });

  it('401 M_MISSING_TOKEN for a repeated query parameter', async () => {
    const response = await call(
      '/_matrix/client/v3/account/whoami?access_token=tok_bob&access_token=tok_alice',
    );
    await expectError(response, 401, 'M_MISSING_TOKEN');
  });

  it('401 M_UNKNOWN_TOKEN with soft_logout false for an unknown token', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'Bearer tok_mallory' },
    });
    const body = await expectError(response, 401, 'M_UNKNOWN_TOKEN');
    expect(body['soft_logout']).toBe(false);
  });

  it('passes a soft-logout error from the lookup through', async () => {
    const response = await call('/_matrix/client/v3/account/whoami', {
      headers: { Authorization: 'Bearer tok_soft' },
    });
    const body = await expectError(response, 401, 'M_UNKNOWN_TOKEN');
    expect(body['soft_logout']).toBe(true);
  });

  it('optional auth: anonymous without a token, the user with one, 401 for a bad one', async () => {
    expect(await readJson(await call('/_matrix/client/v3/publicRooms'))).toEqual({ viewer: null });
    const withToken = await call('/_matrix/client/v3/publicRooms', {
      headers: { Authorization: 'Bearer tok_alice' },
    });
    expect(await readJson(withToken)).toEqual({ viewer: '@alice:example.org' });
    const bad = await call('/_matrix/client/v3/publicRooms?access_token=nope');
    await expectError(bad, 401, 'M_UNKNOWN_TOKEN');
  });

  it('refuses the query parameter when the server turns it off', async () => {
    const strict = createMatrixApp<User>({
      allowQueryAccessToken: false,
      authenticateToken: (token) => TOKENS.get(token),
    }).endpoint({
      method: 'GET',
      path: '/w',
      auth: 'user',
      handler: ({ user }) => ({ u: user.userId }),
    });
    const response = await strict.fetch(new Request('http://h/w?access_token=tok_alice'));
    await expectError(response, 401, 'M_MISSING_TOKEN');
  });
});

describe('JSON bodies (API Standards; M_NOT_JSON, M_BAD_JSON)', () => {
  const send = (
    body: NonNullable<RequestInit['body']> | null,
    headers: Record<string, string> = {},
  ) =>
    call('/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/txn%2F1', {
      method: 'PUT',
      headers: {
        Authorization: 'Bearer tok_alice',
        'Content-Type': 'application/json',
        ...headers,
      },
      body,
    });

  it('gives the handler decoded path params, the validated body and the user', async () => {
    const response = await send('{"msgtype":"m.text","body":"hi"}');
    expect(response.status).toBe(200);
    expect(await readJson(response)).toEqual({
      room_id: '!room:example.org',
      event_type: 'm.room.message',
      txn_id: 'txn/1',
      text: 'hi',
      sender: '@alice:example.org',
    });
  });

  it("reads an empty body as {} where the body is optional ('optional-json'), and still checks a sent one", async () => {
    const leave = (body: string | null) =>
      call('/_matrix/client/v3/rooms/%21r%3Ax/leave', {
        method: 'POST',
        ...(body === null ? {} : { body }),
      });
    expect(await readJson(await leave(null))).toEqual({ echo: {} });
    expect(await readJson(await leave(''))).toEqual({ echo: {} });
    expect(await readJson(await leave('{"reason":"bye"}'))).toEqual({ echo: { reason: 'bye' } });
    await expectError(await leave('not json'), 400, 'M_NOT_JSON');
    await expectError(await leave('[1]'), 400, 'M_BAD_JSON');
  });

  it('does not require Content-Type: application/json', async () => {
    const response = await call('/_matrix/client/v3/echo', { method: 'POST', body: '{"a":1}' });
    expect(await readJson(response)).toEqual({ echo: { a: 1 } });
  });

  it('400 M_NOT_JSON for text that is not JSON', async () => {
    await expectError(await send('{"body": "hi"'), 400, 'M_NOT_JSON');
    await expectError(await send('hello'), 400, 'M_NOT_JSON');
  });

  it('400 M_NOT_JSON for an empty body where JSON is required', async () => {
    await expectError(await send(null), 400, 'M_NOT_JSON');
    await expectError(await send(''), 400, 'M_NOT_JSON');
  });

  it('400 M_NOT_JSON for invalid UTF-8, duplicate keys and lone surrogates', async () => {
    await expectError(
      await send(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
      400,
      'M_NOT_JSON',
    );
    await expectError(await send('{"body":"a","body":"b"}'), 400, 'M_NOT_JSON');
    await expectError(await send('{"body":"\\ud800"}'), 400, 'M_NOT_JSON');
  });

  it('400 M_BAD_JSON for JSON that is not an object', async () => {
    await expectError(await send('[1,2]'), 400, 'M_BAD_JSON');
    await expectError(await send('"text"'), 400, 'M_BAD_JSON');
    await expectError(await send('null'), 400, 'M_BAD_JSON');
  });

  it('400 M_BAD_JSON for floats and out-of-range integers (canonical JSON rules)', async () => {
    await expectError(await send('{"body":"a","n":1.5}'), 400, 'M_BAD_JSON');
    await expectError(await send('{"body":"a","n":9007199254740992}'), 400, 'M_BAD_JSON');
  });

  it('accepts floats only on endpoints declared legacyNumbers (room versions 1-5)', async () => {
    const legacy = await call('/_matrix/federation/v1/legacy', {
      method: 'POST',
      body: '{"n":1.5}',
    });
    expect(await readJson(legacy)).toEqual({ kind: 'number' });
    const strict = await call('/_matrix/client/v3/echo', { method: 'POST', body: '{"n":1.5}' });
    await expectError(strict, 400, 'M_BAD_JSON');
  });

  it('keeps floats but refuses big integers on endpoints declared floats', async () => {
    const floats = await call('/_matrix/client/v3/floats', {
      method: 'PUT',
      body: '{"order":0.5,"n":[1.0,2e3]}',
    });
    expect(await readJson(floats)).toEqual({ body: { order: 0.5, n: [1, 2000] } });
    const big = await expectError(
      await call('/_matrix/client/v3/floats', {
        method: 'PUT',
        body: '{"order":0.5,"n":[1,9007199254740992]}',
      }),
      400,
      'M_BAD_JSON',
    );
    expect(big['error']).toBe('Invalid request body: integer-out-of-range at $.n[1]');
    const overflow = await expectError(
      await call('/_matrix/client/v3/floats', { method: 'PUT', body: '{"x":1e400}' }),
      400,
      'M_BAD_JSON',
    );
    expect(overflow['error']).toBe('Invalid request body: non-finite at $.x');
    // legacyNumbers wins: the big integer is read (as a bigint).
    const legacy = await call('/_matrix/client/v3/floats-legacy', {
      method: 'PUT',
      body: '{"n":9007199254740993}',
    });
    expect(await readJson(legacy)).toEqual({ kind: 'bigint' });
  });

  it('400 M_BAD_JSON from the endpoint validator', async () => {
    const body = await expectError(await send('{"body":5}'), 400, 'M_BAD_JSON');
    expect(body['error']).toBe('body must be a string');
  });

  it('error messages name the problem, never the content', async () => {
    const body = await expectError(
      await send('{"secret":"s3cr3t","secret":"x"}'),
      400,
      'M_NOT_JSON',
    );
    expect(String(body['error'])).not.toContain('s3cr3t');
  });
});

describe('body size limit (M_TOO_LARGE)', () => {
  it('413 M_TOO_LARGE for a Content-Length above the limit', async () => {
    const big = JSON.stringify({ body: 'x'.repeat(2000) });
    await expectError(
      await call('/_matrix/client/v3/echo', { method: 'POST', body: big }),
      413,
      'M_TOO_LARGE',
    );
  });

  it('413 M_TOO_LARGE for a chunked body that grows past the limit', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(300));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 10) controller.close();
        else {
          sent += 1;
          controller.enqueue(chunk);
        }
      },
    });
    const response = await call('/_matrix/client/v3/echo', {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectError(response, 413, 'M_TOO_LARGE');
  });

  it('accepts a body exactly at the limit', async () => {
    const body = `{"a":"${'x'.repeat(1024 - 8)}"}`;
    expect(new TextEncoder().encode(body).byteLength).toBe(1024);
    const response = await call('/_matrix/client/v3/echo', { method: 'POST', body });
    expect(response.status).toBe(200);
  });

  it('applies a per-endpoint limit to raw bodies', async () => {
    const ok = await call('/_matrix/media/v3/upload', {
      method: 'POST',
      body: new Uint8Array(4096),
    });
    expect(await readJson(ok)).toEqual({ size: 4096 });
    const tooBig = await call('/_matrix/media/v3/upload', {
      method: 'POST',
      body: new Uint8Array(4097),
    });
    await expectError(tooBig, 413, 'M_TOO_LARGE');
  });
});

describe('rate limiting (Rate limiting: M_LIMIT_EXCEEDED)', () => {
  it('allows a burst, then 429 with retry_after_ms and Retry-After, then allows after the wait', async () => {
    const post = (token: string) =>
      call('/_matrix/client/v3/limited', {
        method: 'POST',
        body: '{}',
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await post('tok_alice')).status).toBe(200);
    expect((await post('tok_alice')).status).toBe(200);
    const limited = await post('tok_alice');
    const body = await expectError(limited, 429, 'M_LIMIT_EXCEEDED');
    // 0.5 tokens per second and an empty bucket: one token takes 2000 ms.
    expect(body['retry_after_ms']).toBe(2000);
    expect(limited.headers.get('retry-after')).toBe('2');
    // Buckets are per user: bob is unaffected.
    expect((await post('tok_bob')).status).toBe(200);
    clock += 1999;
    const stillLimited = await expectError(await post('tok_alice'), 429, 'M_LIMIT_EXCEEDED');
    expect(stillLimited['retry_after_ms']).toBe(1);
    clock += 1;
    expect((await post('tok_alice')).status).toBe(200);
  });
});

describe('rate-limit keys', () => {
  it('keys unauthenticated requests by clientAddress', async () => {
    const perAddress = createMatrixApp({
      rateLimiter: new TokenBucketRateLimiter({ burst: 1, perSecond: 0.001, now: () => 0 }),
      // As a server behind a trusted proxy would: the address comes from the proxy's header.
      clientAddress: (c) => c.req.header('x-test-address'),
    }).endpoint({ method: 'GET', path: '/r', auth: 'none', rateLimit: true, handler: () => ({}) });
    const get = (address: string) =>
      perAddress.fetch(new Request('http://h/r', { headers: { 'x-test-address': address } }));
    expect((await get('10.0.0.1')).status).toBe(200);
    expect((await get('10.0.0.2')).status).toBe(200);
    await expectError(await get('10.0.0.1'), 429, 'M_LIMIT_EXCEEDED');
  });

  it('uses a custom rateLimitKey and a per-endpoint limiter with a cost', async () => {
    const keys: string[] = [];
    const own = new TokenBucketRateLimiter({ burst: 3, perSecond: 0.001, now: () => 0 });
    const custom = createMatrixApp({
      rateLimitKey: ({ context }) => {
        const key = `room:${context.req.param('roomId') ?? ''}`;
        keys.push(key);
        return key;
      },
    }).endpoint({
      method: 'POST',
      path: '/rooms/:roomId/invite',
      auth: 'none',
      rateLimit: { limiter: own, cost: 2 },
      handler: () => ({}),
    });
    const invite = (room: string) =>
      custom.fetch(new Request(`http://h/rooms/${room}/invite`, { method: 'POST', body: '{}' }));
    expect((await invite('a')).status).toBe(200);
    await expectError(await invite('a'), 429, 'M_LIMIT_EXCEEDED');
    expect((await invite('b')).status).toBe(200);
    expect(keys).toEqual(['room:a', 'room:a', 'room:b']);
  });
});

describe('error handler (Standard error response)', () => {
  it('sends a MatrixError thrown by a handler as is', async () => {
    const body = await expectError(await call('/_matrix/client/v3/denied'), 403, 'M_FORBIDDEN');
    expect(body).toEqual({ errcode: 'M_FORBIDDEN', error: 'You may not' });
  });

  it('turns an unexpected error into 500 M_UNKNOWN without detail, and logs it without the query', async () => {
    const before = logged.length;
    const response = await call('/_matrix/client/v3/boom?access_token=tok_alice');
    const text = await response.clone().text();
    await expectError(response, 500, 'M_UNKNOWN');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('at ');
    expect(logged.length).toBe(before + 1);
    const entry = logged.at(-1);
    if (entry === undefined) throw new Error('nothing logged');
    expect(entry.context.path).toBe('/_matrix/client/v3/boom');
    expect(entry.context.method).toBe('GET');
    expect((entry.context.error as Error).message).toContain('hunter2');
    expect(JSON.stringify(entry.context)).not.toContain('tok_alice');
  });
});

describe('errcodes thrown by handlers reach the client as standard error responses', () => {
  it.each([
    ['notFound', 404, 'M_NOT_FOUND'],
    ['invalidParam', 400, 'M_INVALID_PARAM'],
    ['missingParam', 400, 'M_MISSING_PARAM'],
    ['unauthorized', 401, 'M_UNAUTHORIZED'],
    ['badJson', 400, 'M_BAD_JSON'],
    ['notJson', 400, 'M_NOT_JSON'],
    ['tooLarge', 413, 'M_TOO_LARGE'],
    ['unrecognized', 404, 'M_UNRECOGNIZED'],
    ['unknown503', 503, 'M_UNKNOWN'],
    ['custom', 400, 'COM.EXAMPLE_CUSTOM'],
  ])('%s → %i %s', async (kind, status, errcode) => {
    const body = await expectError(await call(`/_matrix/client/v3/throw/${kind}`), status, errcode);
    const expected = THROWN[kind]?.().toJSON();
    expect(body).toEqual(expected);
  });
});

describe('createMatrixApp argument checks', () => {
  it('refuses endpoints whose auth the app cannot provide', () => {
    const bare = createMatrixApp();
    expect(() =>
      bare.endpoint({ method: 'GET', path: '/a', auth: 'user', handler: () => ({}) }),
    ).toThrow(TypeError);
    expect(() =>
      bare.endpoint({ method: 'GET', path: '/a', auth: 'server', handler: () => ({}) }),
    ).toThrow(TypeError);
    expect(() =>
      bare.endpoint({
        method: 'GET',
        path: '/a',
        auth: 'none',
        rateLimit: true,
        handler: () => ({}),
      }),
    ).toThrow(TypeError);
    expect(() => createMatrixApp({ maxBodyBytes: -1 })).toThrow(RangeError);
  });
});
