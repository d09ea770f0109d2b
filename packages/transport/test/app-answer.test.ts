/**
 * `MatrixApp.answer` (a request read whole, no fetch objects) answers exactly as `fetch` does:
 * the same requests through both give the same status, headers and body — endpoints, their
 * errors, auth, body limits, path parameters, handlers that read `context`, and what no
 * endpoint matches (OPTIONS, HEAD, 404, 405).
 */
import {
  createMatrixApp,
  type LogContext,
  MatrixError,
  type PlainAnswer,
  TokenBucketRateLimiter,
} from '@weft/transport';
import { describe, expect, it } from 'vitest';

const logged: { message: string; context: LogContext }[] = [];

function makeApp(limiter = new TokenBucketRateLimiter({ burst: 1000, perSecond: 1000 })) {
  const app = createMatrixApp<string>({
    logger: { error: (message, context) => logged.push({ message, context }) },
    maxBodyBytes: 64,
    authenticateToken: (token, request) =>
      token === 'good' ? `@u:h${request.headers.get('x-device') ?? ''}` : undefined,
    rateLimiter: limiter,
  });
  app.endpoint({
    method: 'PUT',
    path: '/rooms/:roomId/send/:type/:txn',
    auth: 'user',
    rateLimit: true,
    handler: ({ params, body, user, query }) => ({ params, body, user, q: query.toString() }),
  });
  app.endpoint({ method: 'GET', path: '/open', auth: 'none', handler: () => ({ open: true }) });
  app.endpoint({
    method: 'POST',
    path: '/raw',
    auth: 'none',
    body: 'raw',
    maxBodyBytes: 8,
    handler: ({ rawBody }) => ({ length: rawBody.byteLength }),
  });
  app.endpoint({
    method: 'POST',
    path: '/optional',
    auth: 'optional-user',
    body: 'optional-json',
    floats: true,
    handler: ({ body, user }) => ({ body, user: user ?? null }),
  });
  app.endpoint({
    method: 'GET',
    path: '/ctx',
    auth: 'none',
    handler: ({ context }) => ({
      header: context.req.header('x-h') ?? null,
      env: (context.env as { tag?: string } | undefined)?.tag ?? null,
    }),
  });
  app.endpoint({
    method: 'POST',
    path: '/ctx/:id/more',
    auth: 'none',
    handler: ({ context, body }) => ({
      path: context.req.path,
      id: context.req.param('id') ?? null,
      body,
    }),
  });
  app.endpoint({
    method: 'GET',
    path: '/response',
    auth: 'none',
    handler: () => new Response('raw bytes', { status: 201, headers: { 'X-Own': 'yes' } }),
  });
  app.endpoint({
    method: 'GET',
    path: '/throws/:kind',
    auth: 'none',
    handler: ({ params }) => {
      if (params.kind === 'matrix') throw MatrixError.notFound('No such thing');
      throw new Error('internal detail');
    },
  });
  // Two routes that can match one path: the first registered wins, as in Hono.
  app.endpoint({ method: 'GET', path: '/rules/global/', auth: 'none', handler: () => ({ r: 1 }) });
  app.endpoint({ method: 'GET', path: '/rules/:scope/', auth: 'none', handler: () => ({ r: 2 }) });
  return app;
}

interface Case {
  readonly method: string;
  readonly target: string;
  readonly headers?: Record<string, string>;
  /** Headers as pairs, repeats allowed (instead of `headers`). */
  readonly pairs?: readonly [string, string][];
  readonly body?: string;
}

const CASES: readonly Case[] = [
  { method: 'GET', target: '/open' },
  { method: 'GET', target: '/open?x=1&y=%20' },
  {
    method: 'PUT',
    target: '/rooms/!r%3Ah/send/m.text/t1',
    headers: { Authorization: 'Bearer good' },
    body: '{"a":1}',
  },
  {
    method: 'PUT',
    target: '/rooms/%E0%A4%A/send/x/t%2F2?z=3',
    headers: { authorization: 'Bearer good', 'X-Device': 'D' },
    body: '{}',
  },
  { method: 'PUT', target: '/rooms/r/send/x/t?access_token=good', body: '{"b":[true,null]}' },
  { method: 'PUT', target: '/rooms/r/send/x/t', body: '{}' },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    headers: { Authorization: 'Bearer bad' },
    body: '{}',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    pairs: [
      ['Authorization', 'Bearer good'],
      ['authorization', 'Bearer good'],
    ],
    body: '{}',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    pairs: [
      ['Authorization', 'Bearer good'],
      ['X-Device', 'A'],
      ['x-device', 'B'],
    ],
    body: '{}',
  },
  { method: 'PUT', target: '/rooms/r/send/x/t', headers: { Authorization: 'Bearer' }, body: '{}' },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t?access_token=good',
    headers: { Authorization: 'Bearer good' },
    body: '{}',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    headers: { Authorization: 'Bearer good' },
    body: '{"a":1.5}',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    headers: { Authorization: 'Bearer good' },
    body: '[1]',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    headers: { Authorization: 'Bearer good' },
    body: 'not json',
  },
  {
    method: 'PUT',
    target: '/rooms/r/send/x/t',
    headers: { Authorization: 'Bearer good' },
    body: `{"a":"${'x'.repeat(80)}"}`,
  },
  { method: 'PUT', target: '/rooms/r/send/x/t', headers: { Authorization: 'Bearer good' } },
  { method: 'POST', target: '/raw', body: '12345678' },
  { method: 'POST', target: '/raw', body: '123456789' },
  { method: 'POST', target: '/optional' },
  {
    method: 'POST',
    target: '/optional',
    headers: { Authorization: 'Bearer good' },
    body: '{"f":0.25}',
  },
  { method: 'POST', target: '/optional', headers: { Authorization: 'Bearer bad' } },
  { method: 'GET', target: '/ctx', headers: { 'X-H': 'one' } },
  { method: 'POST', target: '/ctx/a%20b/more', body: '{"x":1}' },
  { method: 'GET', target: '/response' },
  // Paths that match only once URL parsing has normalized them: answered with their body.
  { method: 'POST', target: '/./optional', body: '{"f":0.5}' },
  {
    method: 'PUT',
    target: '/rooms/r/x/../send/x/t',
    headers: { Authorization: 'Bearer good' },
    body: '{"a":2}',
  },
  { method: 'GET', target: '/throws/matrix' },
  { method: 'GET', target: '/throws/other' },
  { method: 'GET', target: '/rules/global/' },
  { method: 'GET', target: '/rules/device/' },
  { method: 'GET', target: '/nowhere' },
  { method: 'POST', target: '/open' },
  { method: 'DELETE', target: '/rooms/r/send/x/t' },
  { method: 'OPTIONS', target: '/open' },
  { method: 'HEAD', target: '/open' },
  { method: 'PATCH', target: '/open', body: '{}' },
];

async function viaFetch(app: ReturnType<typeof makeApp>, c: Case): Promise<PlainAnswer> {
  const response = await app.fetch(
    new Request(`http://localhost${c.target}`, {
      method: c.method,
      headers: c.pairs !== undefined ? [...c.pairs] : (c.headers ?? {}),
      ...(c.body === undefined ? {} : { body: c.body }),
    }),
    { tag: 'env' },
  );
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { status: response.status, headers, body: await response.text() };
}

async function viaAnswer(app: ReturnType<typeof makeApp>, c: Case): Promise<PlainAnswer> {
  const answer = await app.answer(
    {
      method: c.method,
      target: c.target,
      rawHeaders: (c.pairs ?? Object.entries(c.headers ?? {})).flat(),
      body: c.body === undefined ? undefined : new TextEncoder().encode(c.body),
    },
    { tag: 'env' },
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(answer.headers)) headers[name.toLowerCase()] = value;
  const body =
    typeof answer.body === 'string' ? answer.body : new TextDecoder().decode(answer.body);
  return { status: answer.status, headers, body };
}

describe('MatrixApp.answer', () => {
  it('answers every case as fetch does', async () => {
    const app = makeApp();
    for (const c of CASES) {
      logged.length = 0;
      const fetched = await viaFetch(app, c);
      const fetchLog = logged.splice(0);
      const answered = await viaAnswer(app, c);
      const label = `${c.method} ${c.target}`;
      expect({ label, ...answered }).toEqual({ label, ...fetched });
      // Unexpected errors are logged the same way (path only, never the query).
      expect(logged.map((entry) => entry.message)).toEqual(fetchLog.map((entry) => entry.message));
    }
  });

  it('reaches the handler with decoded parameters, the user, the body and context', async () => {
    const app = makeApp();
    const sent = await viaAnswer(app, CASES[2] as Case);
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.body as string)).toEqual({
      params: { roomId: '!r:h', type: 'm.text', txn: 't1' },
      body: { a: 1 },
      user: '@u:h',
      q: '',
    });
    const context = await viaAnswer(app, {
      method: 'GET',
      target: '/ctx',
      headers: { 'x-h': 'two' },
    });
    expect(JSON.parse(context.body as string)).toEqual({ header: 'two', env: 'env' });
  });

  it('rate-limits as fetch does (one limiter for both ways in)', async () => {
    const app = makeApp(new TokenBucketRateLimiter({ burst: 1, perSecond: 0.001 }));
    const send = CASES[2] as Case;
    expect((await viaAnswer(app, send)).status).toBe(200);
    const limited = await viaAnswer(app, send);
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body as string)).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED' });
    expect((await viaFetch(app, send)).status).toBe(429);
  });

  it('refuses a target that is not a plain path', async () => {
    const app = makeApp();
    for (const target of ['*', 'http://other/open', '/open\\..\\x']) {
      const answer = await viaAnswer(app, { method: 'GET', target });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body as string)).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    }
  });

  it('answers a method fetch refuses (TRACE, CONNECT) 405 on a served path, 404 elsewhere', async () => {
    const app = makeApp();
    for (const method of ['TRACE', 'CONNECT']) {
      const known = await viaAnswer(app, { method, target: '/open' });
      expect(known.status, method).toBe(405);
      expect(JSON.parse(known.body as string)).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
      expect(known.headers['access-control-allow-origin']).toBe('*');
      const unknown = await viaAnswer(app, { method, target: '/nowhere' });
      expect(unknown.status, method).toBe(404);
      expect(JSON.parse(unknown.body as string)).toMatchObject({ errcode: 'M_UNRECOGNIZED' });
    }
  });
});
