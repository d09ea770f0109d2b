/**
 * Bad input to every room endpoint — wrong JSON types in each field, non-JSON, non-object JSON,
 * odd path parameters, missing tokens — is answered with a 4xx and a Matrix errcode, never a
 * 5xx. Values come from fast-check with a fixed seed, so a failure replays exactly.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
let token = '';
let roomId = '';
let eventId = '';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

beforeAll(async () => {
  server = await startTestServer();
  const alice = await server.client.registerUser('alice');
  token = alice.accessToken;
  const created = await server.client.request('POST', `${V3}/createRoom`, {
    token,
    body: { preset: 'public_chat', name: 'fuzz' },
  });
  roomId = String(created.body['room_id']);
  const sent = await server.client.request(
    'PUT',
    `${V3}/rooms/${enc(roomId)}/send/m.room.message/seed`,
    { token, body: { body: 'hi' } },
  );
  eventId = String(sent.body['event_id']);
});
afterAll(async () => {
  await server.stop();
});

/** [method, path, fields the body may carry]; `{room}`/`{event}` are filled in. */
const ENDPOINTS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  [
    'POST',
    '/createRoom',
    [
      'preset',
      'visibility',
      'room_version',
      'room_alias_name',
      'invite',
      'initial_state',
      'creation_content',
      'power_level_content_override',
      'is_direct',
      'name',
      'topic',
    ],
  ],
  ['POST', '/join/{room}', ['reason']],
  ['POST', '/rooms/{room}/join', ['reason']],
  ['POST', '/rooms/{room}/invite', ['user_id', 'reason', 'is_direct']],
  ['POST', '/rooms/{room}/kick', ['user_id', 'reason']],
  ['POST', '/rooms/{room}/ban', ['user_id', 'reason']],
  ['POST', '/rooms/{room}/unban', ['user_id', 'reason']],
  ['POST', '/rooms/{room}/leave', ['reason']],
  ['POST', '/rooms/{room}/forget', []],
  ['PUT', '/rooms/{room}/send/m.room.message/{txn}', ['body', 'msgtype']],
  ['PUT', '/rooms/{room}/state/m.room.topic/', ['topic']],
  ['PUT', '/rooms/{room}/state/m.room.power_levels/', ['users', 'events', 'ban']],
  ['PUT', '/rooms/{room}/state/m.room.member/@x:test.local', ['membership']],
  ['PUT', '/rooms/{room}/redact/{event}/{txn}', ['reason']],
  ['PUT', '/directory/room/%23fuzz:test.local', ['room_id']],
  ['POST', '/publicRooms', ['limit', 'since', 'filter', 'server']],
  ['PUT', '/directory/list/room/{room}', ['visibility']],
];

const GETS = [
  '/rooms/{room}/messages?dir={q}&from={q}&limit={q}&filter={q}',
  '/rooms/{room}/context/{event}?limit={q}&filter={q}',
  '/rooms/{room}/event/{q}',
  '/rooms/{room}/members?at={q}&membership={q}&not_membership={q}',
  '/rooms/{room}/state/{q}/{q}',
  '/rooms/{q}/state',
  '/rooms/{q}/joined_members',
  '/directory/room/{q}',
  '/publicRooms?limit={q}&since={q}&server={q}',
  '/directory/list/room/{q}',
];

const jsonValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
);

function fill(path: string, txn: string): string {
  return path.replace('{room}', enc(roomId)).replace('{event}', enc(eventId)).replace('{txn}', txn);
}

describe('room endpoints under bad input', () => {
  it('answer wrong-typed fields with 4xx, never 5xx', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        fc.dictionary(fc.string({ maxLength: 3 }), jsonValue, { maxKeys: 2 }),
        fc.array(jsonValue, { minLength: 11, maxLength: 11 }),
        async ([method, path, fields], extra, values) => {
          const body: Record<string, unknown> = { ...extra };
          fields.forEach((field, i) => {
            if (i % 2 === n % 2) body[field] = values[i];
          });
          n++;
          const res = await server.client.request(method, V3 + fill(path, `f${n}`), {
            token,
            body,
          });
          expect(
            res.status,
            `${method} ${path} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`,
          ).toBeLessThan(500);
          if (res.status >= 400) expect(String(res.body['errcode'])).toMatch(/^M_/);
        },
      ),
      { numRuns: 150, seed: 20261129 },
    );
  });

  it('answer odd query and path parameters with 4xx, never 5xx', async () => {
    const odd = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom(
        '',
        '-1',
        '1e400',
        't',
        's',
        'NaN',
        '%',
        '%E0%A4%A',
        '{',
        '!',
        '#',
        '$',
        '@',
        'b',
        'f',
        '0',
        '9'.repeat(40),
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...GETS),
        fc.array(odd, { minLength: 8, maxLength: 8 }),
        async (path, values) => {
          let i = 0;
          const url = fill(path, 'x').replace(/\{q\}/g, () => {
            const value = values[i++] ?? '';
            return /^%|^%E0/.test(value) ? value : enc(value);
          });
          const res = await server.client.request('GET', V3 + url, { token });
          expect(res.status, `GET ${url} → ${JSON.stringify(res.body)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150, seed: 20261129 },
    );
  });

  it('answer non-JSON and non-object bodies with M_NOT_JSON or M_BAD_JSON, and no token with 401', async () => {
    for (const [method, path] of ENDPOINTS) {
      for (const raw of ['not json', '[1,2]', '"s"', '{"a":1.5}']) {
        const res = await server.client.request(method, V3 + fill(path, `raw${raw.length}`), {
          token,
          rawBody: raw,
          headers: { 'Content-Type': 'application/json' },
        });
        expect(res.status, `${method} ${path} ${raw}`).toBe(400);
        expect(['M_NOT_JSON', 'M_BAD_JSON']).toContain(res.body['errcode']);
      }
      const anon = await server.client.request(method, V3 + fill(path, 'anon'), { body: {} });
      if (path.startsWith('/publicRooms')) continue;
      expect(anon.status, `${method} ${path}`).toBe(401);
    }
  });
});
