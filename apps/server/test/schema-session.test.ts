/**
 * A realistic client session — register, log in, create a room, send, state, sync (initial and
 * incremental), history, profile, devices, E2E keys, account data, filters, push rules,
 * capabilities, the directory, ephemeral events and error answers — where EVERY response is
 * validated against the schema the spec's OpenAPI documents give for its operation and status
 * (test/openapi.ts). A response with a status the operation does not document fails too.
 */
import { generateSigningKey, type JsonObject, signJson } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

type Json = Record<string, unknown>;

const spec = new ClientServerSpec();
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const PASSWORD = 'correct horse battery staple';

let server: TestServer;
/** `METHOD template` of every operation whose response was validated. */
const covered = new Set<string>();

beforeAll(async () => {
  server = await startTestServer({ serverName: 'schema.test' });
});
afterAll(async () => {
  await server.stop();
});

/** Calls the server, checks the status, and validates the body against the spec. */
async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; status?: number } = {},
): Promise<Json> {
  const response = await server.client.request<Json>(method, path, {
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const status = options.status ?? 200;
  if (response.status !== status) {
    throw new Error(
      `${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
  const { operation } = await spec.check(method, path, response.status, response.body);
  await spec.expectValid(method, path, response.status, response.body);
  covered.add(`${operation.method} ${operation.template}`);
  return response.body;
}

interface Account {
  userId: string;
  token: string;
  deviceId: string;
}

async function register(username: string): Promise<Account> {
  const first = await call('POST', `${V3}/register`, {
    body: { username, password: PASSWORD },
    status: 401,
  });
  const done = await call('POST', `${V3}/register`, {
    body: {
      username,
      password: PASSWORD,
      auth: { type: 'm.login.dummy', session: first['session'] },
    },
  });
  return {
    userId: String(done['user_id']),
    token: String(done['access_token']),
    deviceId: String(done['device_id']),
  };
}

describe('the validator (test/openapi.ts)', () => {
  it('finds operations by concrete path, r0 as v3, empty state keys', () => {
    const state = spec.find('PUT', `${V3}/rooms/${enc('!a:b')}/state/m.room.topic/`);
    expect(state?.file).toBe('room_state.yaml');
    expect(spec.find('GET', '/_matrix/client/r0/profile/@a:b/displayname')?.template).toBe(
      '/_matrix/client/v3/profile/{userId}/{keyName}',
    );
    expect(spec.find('GET', `${V3}/no/such/endpoint`)).toBeUndefined();
  });

  it('rejects bodies that break the schema or a custom format', async () => {
    const wrongType = await spec.check('GET', '/_matrix/client/versions', 200, { versions: 5 });
    expect(wrongType.errors.join()).toMatch(/must be array/);
    const badUserId = await spec.check('GET', `${V3}/account/whoami`, 200, {
      user_id: '@no-server-name',
    });
    expect(badUserId.errors.length).toBeGreaterThan(0);
    const undocumented = await spec.check('GET', '/_matrix/client/versions', 500, {});
    expect(undocumented.errors.join()).toMatch(/not documented/);
  });
});

describe('responses validate against the spec OpenAPI schemas', () => {
  let alice: Account;
  let bob: Account;
  let roomId = '';
  let eventId = '';
  let since = '';

  it('discovery: versions, well-known, capabilities, login flows', async () => {
    await call('GET', '/_matrix/client/versions');
    await call('GET', '/.well-known/matrix/client').catch(async (error: unknown) => {
      // No public_base_url configured: the spec's 404 answer is allowed.
      await call('GET', '/.well-known/matrix/client', { status: 404 }).catch(() => {
        throw error;
      });
    });
    await call('GET', `${V3}/login`);
    alice = await register('alice');
    bob = await register('bob');
    await call('GET', `${V3}/capabilities`, { token: alice.token });
  });

  it('accounts: login, whoami, devices, errors', async () => {
    const login = await call('POST', `${V3}/login`, {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: PASSWORD,
      },
    });
    await call('POST', `${V3}/login`, {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'wrong',
      },
      status: 403,
    });
    await call('GET', `${V3}/account/whoami`, { token: alice.token });
    await call('GET', `${V3}/account/whoami`, { status: 401 });
    await call('GET', `${V3}/account/whoami`, { token: 'not-a-token', status: 401 });
    const devices = await call('GET', `${V3}/devices`, { token: alice.token });
    expect((devices['devices'] as unknown[]).length).toBe(2);
    await call('GET', `${V3}/devices/${enc(alice.deviceId)}`, { token: alice.token });
    await call('PUT', `${V3}/devices/${enc(alice.deviceId)}`, {
      token: alice.token,
      body: { display_name: 'schema laptop' },
    });
    await call('GET', `${V3}/devices/NOSUCHDEVICE`, { token: alice.token, status: 404 });
    await call('POST', `${V3}/logout`, { token: String(login['access_token']) });
  });

  it('profile, account data, filters, push rules', async () => {
    await call('PUT', `${V3}/profile/${enc(alice.userId)}/displayname`, {
      token: alice.token,
      body: { displayname: 'Alice' },
    });
    await call('GET', `${V3}/profile/${enc(alice.userId)}`);
    await call('GET', `${V3}/profile/${enc(alice.userId)}/displayname`);
    await call('GET', `${V3}/profile/${enc('@nobody:schema.test')}`, { status: 404 });
    await call('PUT', `${V3}/user/${enc(alice.userId)}/account_data/org.example.settings`, {
      token: alice.token,
      body: { theme: 'dark' },
    });
    await call('GET', `${V3}/user/${enc(alice.userId)}/account_data/org.example.settings`, {
      token: alice.token,
    });
    await call('GET', `${V3}/user/${enc(alice.userId)}/account_data/org.example.none`, {
      token: alice.token,
      status: 404,
    });
    const filter = await call('POST', `${V3}/user/${enc(alice.userId)}/filter`, {
      token: alice.token,
      body: { room: { timeline: { limit: 5 } } },
    });
    await call(
      'GET',
      `${V3}/user/${enc(alice.userId)}/filter/${enc(String(filter['filter_id']))}`,
      {
        token: alice.token,
      },
    );
    await call('GET', `${V3}/pushrules/`, { token: alice.token });
  });

  it('rooms: create, send, state, invite, join, directory', async () => {
    const created = await call('POST', `${V3}/createRoom`, {
      token: alice.token,
      body: { preset: 'public_chat', name: 'Schema', topic: 'spec', room_alias_name: 'schema' },
    });
    roomId = String(created['room_id']);
    const room = `${V3}/rooms/${enc(roomId)}`;
    const sent = await call('PUT', `${room}/send/m.room.message/t1`, {
      token: alice.token,
      body: { msgtype: 'm.text', body: 'hello' },
    });
    eventId = String(sent['event_id']);
    await call('PUT', `${room}/state/m.room.topic/`, {
      token: alice.token,
      body: { topic: 'new topic' },
    });
    await call('GET', `${room}/state/m.room.topic/`, { token: alice.token });
    await call('GET', `${room}/state/m.room.avatar/`, { token: alice.token, status: 404 });
    await call('GET', `${room}/state`, { token: alice.token });
    await call('POST', `${room}/invite`, { token: alice.token, body: { user_id: bob.userId } });
    await call('POST', `${V3}/join/${enc('#schema:schema.test')}`, { token: bob.token, body: {} });
    await call('GET', `${V3}/joined_rooms`, { token: bob.token });
    await call('GET', `${V3}/directory/room/${enc('#schema:schema.test')}`);
    await call('GET', `${V3}/directory/room/${enc('#nothing:schema.test')}`, { status: 404 });
    await call('GET', `${room}/aliases`, { token: alice.token });
    await call('GET', `${V3}/directory/list/room/${enc(roomId)}`);
    await call('PUT', `${V3}/directory/list/room/${enc(roomId)}`, {
      token: alice.token,
      body: { visibility: 'public' },
    });
    await call('GET', `${V3}/publicRooms`);
    await call('POST', `${V3}/publicRooms`, { token: alice.token, body: { limit: 5 } });
  });

  it('sync: initial and incremental', async () => {
    const initial = await call('GET', `${V3}/sync?timeout=0`, { token: bob.token });
    since = String(initial['next_batch']);
    const room = `${V3}/rooms/${enc(roomId)}`;
    await call('PUT', `${room}/send/m.room.message/t2`, {
      token: alice.token,
      body: { msgtype: 'm.text', body: 'second' },
    });
    await call('PUT', `${room}/typing/${enc(alice.userId)}`, {
      token: alice.token,
      body: { typing: true, timeout: 5000 },
    });
    await call('POST', `${room}/receipt/m.read/${enc(eventId)}`, {
      token: alice.token,
      body: {},
    });
    await call('POST', `${room}/read_markers`, {
      token: alice.token,
      body: { 'm.fully_read': eventId, 'm.read': eventId },
    });
    await call('PUT', `${V3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/x.y`, {
      token: bob.token,
      body: { a: 1 },
    });
    await call('GET', `${V3}/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/x.y`, {
      token: bob.token,
    });
    const incremental = await call('GET', `${V3}/sync?timeout=0&since=${enc(since)}`, {
      token: bob.token,
    });
    const joined = (incremental['rooms'] as Json)['join'] as Record<string, Json>;
    expect(Object.keys(joined)).toContain(roomId);
    since = String(incremental['next_batch']);
    await call(
      'GET',
      `${V3}/sync?timeout=0&filter=${enc(JSON.stringify({ room: { timeline: { limit: 1 }, state: { lazy_load_members: true } } }))}`,
      { token: alice.token },
    );
  });

  it('history: messages, context, event, members, redaction', async () => {
    const room = `${V3}/rooms/${enc(roomId)}`;
    const page = await call('GET', `${room}/messages?dir=b&limit=3`, { token: bob.token });
    await call('GET', `${room}/messages?dir=f&from=${enc(String(page['end']))}&limit=3`, {
      token: bob.token,
    });
    await call('GET', `${room}/context/${enc(eventId)}?limit=2`, { token: bob.token });
    await call('GET', `${room}/event/${enc(eventId)}`, { token: bob.token });
    await call('GET', `${room}/event/${enc('$nope')}`, { token: bob.token, status: 404 });
    await call('GET', `${room}/members`, { token: bob.token });
    await call('GET', `${room}/joined_members`, { token: bob.token });
    await call('PUT', `${room}/redact/${enc(eventId)}/r1`, {
      token: alice.token,
      body: { reason: 'test' },
    });
    await call('GET', `${room}/messages?dir=b`, { token: 'bad', status: 401 });
  });

  it('end-to-end keys and to-device messages', async () => {
    const key = generateSigningKey(alice.deviceId);
    const deviceKeys = signJson(
      {
        user_id: alice.userId,
        device_id: alice.deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: {
          [`curve25519:${alice.deviceId}`]: 'aGVsbG8gY3VydmUyNTUxOSBwdWJsaWMga2V5IGhlcmU',
          [`ed25519:${alice.deviceId}`]: key.publicKeyBase64,
        },
      },
      alice.userId,
      `ed25519:${alice.deviceId}`,
      key,
    );
    const otk = (value: string): JsonObject =>
      signJson({ key: value }, alice.userId, `ed25519:${alice.deviceId}`, key);
    await call('POST', `${V3}/keys/upload`, {
      token: alice.token,
      body: {
        device_keys: deviceKeys,
        one_time_keys: {
          'signed_curve25519:AAAAAQ': otk('b25lIHRpbWUga2V5IG51bWJlciBvbmUgYWJjZGVmZw'),
        },
      },
    });
    await call('POST', `${V3}/keys/query`, {
      token: bob.token,
      body: { device_keys: { [alice.userId]: [] } },
    });
    await call('POST', `${V3}/keys/claim`, {
      token: bob.token,
      body: { one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } } },
    });
    await call('GET', `${V3}/keys/changes?from=${enc(since)}&to=${enc(since)}`, {
      token: bob.token,
    });
    await call('PUT', `${V3}/sendToDevice/m.test/txn1`, {
      token: bob.token,
      body: { messages: { [alice.userId]: { '*': { hello: 'world' } } } },
    });
  });

  it('bad requests answer with the spec error shapes', async () => {
    await call('POST', `${V3}/createRoom`, {
      token: alice.token,
      body: { room_version: '1' },
      status: 400,
    });
    await call('POST', `${V3}/rooms/${enc('!nope:schema.test')}/join`, {
      token: bob.token,
      body: {},
      status: 404,
    });
    await call('PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.power_levels/`, {
      token: bob.token,
      body: { users: {} },
      status: 403,
    });
    await call('POST', `${V3}/register`, {
      body: { username: 'alice', password: PASSWORD, auth: { type: 'm.login.dummy' } },
      status: 400,
    });
  });

  it('membership changes and logout', async () => {
    const room = `${V3}/rooms/${enc(roomId)}`;
    await call('POST', `${room}/kick`, { token: alice.token, body: { user_id: bob.userId } });
    await call('POST', `${room}/ban`, { token: alice.token, body: { user_id: bob.userId } });
    await call('POST', `${room}/unban`, { token: alice.token, body: { user_id: bob.userId } });
    await call('POST', `${room}/leave`, { token: alice.token, body: {} });
    await call('POST', `${room}/forget`, { token: alice.token, body: {} });
    await call('POST', `${V3}/logout/all`, { token: bob.token });
  });

  it('covered the operations this server implements', () => {
    // At least these operations were exercised and validated above.
    expect(covered.size).toBeGreaterThanOrEqual(55);
  });
});
