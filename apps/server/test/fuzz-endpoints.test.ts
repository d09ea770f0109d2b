/**
 * Bad input to EVERY registered endpoint — enumerated from the app itself (the Hono route table
 * of `createApp`), so an endpoint added later is fuzzed without editing this file — is answered
 * with a 4xx and a Matrix errcode, never a 5xx (CS API "Standard error response", "Common error
 * codes"):
 * - no token → 401 `M_MISSING_TOKEN` where a token is required; a bad token → 401
 *   `M_UNKNOWN_TOKEN`;
 * - malformed or non-object JSON → 400 `M_NOT_JSON`/`M_BAD_JSON`; a body over the size limit →
 *   413 `M_TOO_LARGE`;
 * - random JSON bodies (known field names with values of every type), random path parameters and
 *   random query strings (fast-check, fixed seed, bounded runs) → a status below 500;
 * - unknown paths → 404 `M_UNRECOGNIZED`; a known path with another method → 405.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createApp } from '../src/app.ts';
import { startTestServer, type TestServer } from './harness.ts';

interface Route {
  readonly method: string;
  /** Hono pattern, e.g. `/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId`. */
  readonly path: string;
}

const SEED = 0x5eed;
const enc = encodeURIComponent;
/** Endpoints that end the caller's session: fuzzed without a valid token only. */
const ENDS_SESSION = /\/logout(\/all)?$/;
/** Raw-bytes bodies (media upload): no JSON rules apply. */
const RAW_BODY = /\/upload(?:\/:serverName\/:mediaId)?$/;
/** Field names real clients send somewhere in the API, so random bodies reach real validation. */
const FIELDS = [
  'auth',
  'body',
  'content',
  'creation_content',
  'device_id',
  'device_keys',
  'displayname',
  'avatar_url',
  'event_id',
  'fallback_keys',
  'identifier',
  'initial_state',
  'invite',
  'is_direct',
  'limit',
  'm.fully_read',
  'm.read',
  'messages',
  'msgtype',
  'name',
  'one_time_keys',
  'password',
  'power_level_content_override',
  'preset',
  'presence',
  'reason',
  'room',
  'room_alias_name',
  'room_id',
  'room_version',
  'since',
  'thread_id',
  'timeout',
  'topic',
  'type',
  'typing',
  'user_id',
  'username',
  'visibility',
  'actions',
  'enabled',
  'conditions',
  'pattern',
  'filter',
  'server',
  'display_name',
  'devices',
  'new_password',
  'logout_devices',
  'status_msg',
  'account_data',
  'event_fields',
  'event_format',
];
const QUERY_NAMES = [
  'limit',
  'dir',
  'from',
  'to',
  'since',
  'filter',
  'full_state',
  'set_presence',
  'at',
  'membership',
  'not_membership',
  'format',
  'server',
  'via',
  'allow_remote',
  'timeout_ms',
  'width',
  'height',
  'method',
  'filename',
  'kind',
  'before',
  'after',
  'stateKey',
];
/** `/sync` and media downloads long-poll on these; keep them short so the test stays fast. */
const SHORT_WAITS = ['timeout=0', 'timeout_ms=0'];

let server: TestServer;
const routes: Route[] = [];
let token = '';
let userId = '';
let deviceId = '';
let roomId = '';
let spareRoomId = '';
let eventId = '';
let txn = 0;

beforeAll(async () => {
  server = await startTestServer({ serverName: 'fuzz.test' });
  // The route table of the very app the server runs, read without serving it.
  const app = createApp(server.services);
  const seen = new Set<string>();
  for (const route of app.hono.routes) {
    if (route.method === 'ALL') continue;
    const key = `${route.method} ${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: route.method, path: route.path });
  }
  const alice = await server.client.registerUser('alice');
  token = alice.accessToken;
  userId = alice.userId;
  deviceId = alice.deviceId;
  const room = await server.client.request('POST', '/_matrix/client/v3/createRoom', {
    token,
    body: { preset: 'public_chat', room_alias_name: 'fuzz' },
  });
  roomId = String(room.body['room_id']);
  const spare = await server.client.request('POST', '/_matrix/client/v3/createRoom', {
    token,
    body: {},
  });
  spareRoomId = String(spare.body['room_id']);
  const sent = await server.client.request(
    'PUT',
    `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/seed`,
    { token, body: { msgtype: 'm.text', body: 'seed' } },
  );
  eventId = String(sent.body['event_id']);
});

afterAll(async () => {
  await server.stop();
});

/** A valid value for a path parameter, so the request reaches the endpoint's own logic. */
function validParam(name: string, route: Route): string {
  switch (name) {
    case 'roomId':
    case 'roomIdOrAlias':
      return /\/(leave|forget|kick|ban)$/.test(route.path) ? spareRoomId : roomId;
    case 'eventId':
      return eventId;
    case 'userId':
      return userId;
    case 'deviceId':
      return deviceId;
    case 'eventType':
      return route.path.includes('/state/') ? 'm.room.topic' : 'm.room.message';
    case 'stateKey':
      return '';
    case 'txnId':
      return `fuzz-${txn++}`;
    case 'receiptType':
      return 'm.read';
    case 'type':
      return 'org.example.fuzz';
    case 'scope':
      return 'global';
    case 'kind':
      return 'override';
    case 'ruleId':
      return 'fuzz.rule';
    case 'serverName':
      return 'fuzz.test';
    case 'roomAlias':
      return '#fuzz-alias:fuzz.test';
    default:
      return 'x';
  }
}

function fill(route: Route, params: (name: string) => string): string {
  return route.path.replace(/:([A-Za-z]+)/g, (_, name: string) => enc(params(name)));
}

function withShortWaits(path: string, query = ''): string {
  const parts = [...SHORT_WAITS, ...(query === '' ? [] : [query])];
  return `${path}?${parts.join('&')}`;
}

interface Answer {
  status: number;
  body: unknown;
}

async function send(
  method: string,
  path: string,
  options: { token?: string; body?: string | Uint8Array; contentType?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  if (options.body !== undefined)
    headers['Content-Type'] = options.contentType ?? 'application/json';
  const response = await fetch(server.url + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Media downloads answer with bytes.
  }
  return { status: response.status, body };
}

function errcodeOf(answer: Answer): unknown {
  return typeof answer.body === 'object' && answer.body !== null
    ? (answer.body as Record<string, unknown>)['errcode']
    : undefined;
}

/** A User-Interactive Authentication challenge (CS API "User-Interactive Authentication API"). */
function isUiaChallenge(answer: Answer): boolean {
  return (
    answer.status === 401 &&
    typeof answer.body === 'object' &&
    answer.body !== null &&
    Array.isArray((answer.body as Record<string, unknown>)['flows'])
  );
}

/**
 * The invariant: never a 5xx, and every error is a Matrix error with an errcode (or a UIA
 * challenge, whose 401 body carries `flows` and needs no errcode).
 */
function expectClientError(answer: Answer, what: string): void {
  if (isUiaChallenge(answer)) return;
  if (answer.status >= 500 || (answer.status >= 400 && typeof errcodeOf(answer) !== 'string')) {
    throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  if (answer.status >= 400) expect(errcodeOf(answer)).toMatch(/^M_[A-Z_]+$/);
}

const jsonRoutes = () =>
  routes.filter((r) => (r.method === 'POST' || r.method === 'PUT') && !RAW_BODY.test(r.path));

describe('every registered endpoint refuses bad input with a 4xx Matrix error', () => {
  it('enumerates the endpoints from the app', () => {
    expect(routes.length).toBeGreaterThan(100);
    expect(routes).toContainEqual({ method: 'GET', path: '/_matrix/client/v3/sync' });
    expect(routes).toContainEqual({ method: 'GET', path: '/_matrix/client/r0/sync' });
  });

  it('missing and unknown access tokens', async () => {
    let needingAuth = 0;
    for (const route of routes) {
      const path = withShortWaits(fill(route, (name) => validParam(name, route)));
      const body = route.method === 'POST' || route.method === 'PUT' ? '{}' : undefined;
      const anonymous = await send(route.method, path, body === undefined ? {} : { body });
      expectClientError(anonymous, `${route.method} ${route.path} without token`);
      const wrong = await send(route.method, path, {
        token: 'syt_not_a_real_token',
        ...(body === undefined ? {} : { body }),
      });
      expectClientError(wrong, `${route.method} ${route.path} with a bad token`);
      if (anonymous.status === 401 && !isUiaChallenge(anonymous)) {
        needingAuth++;
        expect(errcodeOf(anonymous), `${route.method} ${route.path}`).toBe('M_MISSING_TOKEN');
        expect(wrong.status).toBe(401);
        expect(errcodeOf(wrong), `${route.method} ${route.path}`).toBe('M_UNKNOWN_TOKEN');
      }
    }
    expect(needingAuth).toBeGreaterThan(60);
  });

  /** Routes whose request body the spec makes optional (transport's `optional-json`). */
  const OPTIONAL_BODY =
    /\/(join\/:roomIdOrAlias|knock\/:roomIdOrAlias|join|leave|forget|receipt\/:receiptType\/:eventId)$/;

  it('malformed and non-object JSON bodies → 400 M_NOT_JSON / M_BAD_JSON', async () => {
    const bad: (string | Uint8Array)[] = [
      '{"a":',
      'not json',
      '',
      '[]',
      '"a string"',
      '42',
      'null',
      '{"a":1,"a":2}',
      '{"a":NaN}',
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
    ];
    for (const route of jsonRoutes()) {
      // r0 routes run the same definitions as v3 (routes.ts); the token test covers them.
      if (ENDS_SESSION.test(route.path) || route.path.includes('/r0/')) continue;
      for (const body of bad) {
        // These endpoints' whole body is optional in the spec, so an empty one is a valid request
        // (rooms-optional-bodies.test.ts covers it); everything else here must still be refused.
        if (body === '' && OPTIONAL_BODY.test(route.path)) continue;
        const path = fill(route, (name) => validParam(name, route));
        const answer = await send(route.method, path, { token, body });
        const what = `${route.method} ${route.path} with body ${JSON.stringify(String(body)).slice(0, 30)}`;
        expectClientError(answer, what);
        expect(answer.status, what).toBe(400);
        expect(['M_NOT_JSON', 'M_BAD_JSON'], what).toContain(errcodeOf(answer));
      }
    }
  });

  it('bodies over the size limit → 413 M_TOO_LARGE', async () => {
    const huge = JSON.stringify({ body: 'x'.repeat(4 * 1024 * 1024 + 16) });
    for (const route of jsonRoutes()) {
      if (ENDS_SESSION.test(route.path) || route.path.includes('/r0/')) continue;
      const path = fill(route, (name) => validParam(name, route));
      const answer = await send(route.method, path, { token, body: huge });
      const what = `${route.method} ${route.path} with a 4 MiB body`;
      expect(answer.status, what).toBe(413);
      expect(errcodeOf(answer), what).toBe('M_TOO_LARGE');
    }
  });

  it('random JSON bodies with real field names → never a 5xx', async () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(roomId, eventId, userId, '@x:fuzz.test', '', -1, 2 ** 53, 1.5, true),
    );
    const body = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string()), value, {
      maxKeys: 6,
    });
    for (const route of jsonRoutes()) {
      if (ENDS_SESSION.test(route.path) || route.path.includes('/r0/')) continue;
      await fc.assert(
        fc.asyncProperty(body, async (json) => {
          const path = fill(route, (name) => validParam(name, route));
          const answer = await send(route.method, path, { token, body: JSON.stringify(json) });
          expectClientError(answer, `${route.method} ${route.path} ${JSON.stringify(json)}`);
        }),
        { seed: SEED, numRuns: 12 },
      );
    }
  });

  it('random path parameters and query strings → never a 5xx', async () => {
    const param = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.constantFrom('..', '%', '!', '$', '@', '#', ':', '!a:b', '@a:b', '$a', ' ', '\u0000'),
    );
    const query = fc.dictionary(
      fc.constantFrom(...QUERY_NAMES),
      fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('-1', '0', '1e309', 'b', 'f', '{')),
      { maxKeys: 4 },
    );
    for (const route of routes) {
      if (ENDS_SESSION.test(route.path) || route.path.includes('/r0/')) continue;
      await fc.assert(
        fc.asyncProperty(param, query, async (value, q) => {
          const path = fill(route, (name) => (name === 'txnId' ? `t${txn++}` : value));
          const search = Object.entries(q)
            .map(([k, v]) => `${k}=${enc(v)}`)
            .join('&');
          const body = route.method === 'POST' || route.method === 'PUT' ? '{}' : undefined;
          const answer = await send(route.method, withShortWaits(path, search), {
            token,
            ...(body === undefined ? {} : { body }),
          });
          expectClientError(answer, `${route.method} ${path}?${search}`);
        }),
        { seed: SEED, numRuns: 6 },
      );
    }
  });

  it('unknown endpoints → 404 M_UNRECOGNIZED; known paths with another method → 405', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.stringMatching(/^[a-z0-9_]{1,12}$/), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        async (segments, method) => {
          const answer = await send(method, `/_matrix/client/v3/zz_${segments.join('/')}`, {
            token,
          });
          expect(answer.status).toBe(404);
          expect(errcodeOf(answer)).toBe('M_UNRECOGNIZED');
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
    const wrongMethod = await send('DELETE', '/_matrix/client/v3/sync', { token });
    expect(wrongMethod.status).toBe(405);
    expect(errcodeOf(wrongMethod)).toBe('M_UNRECOGNIZED');
  });

  it('the fuzzing left the session and the room intact', async () => {
    const whoami = await send('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.status).toBe(200);
    const event = await send(
      'GET',
      `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(eventId)}`,
      { token },
    );
    expect(event.status).toBe(200);
  });
});
