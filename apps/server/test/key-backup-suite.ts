/**
 * Server-side key backups (client-server-api "Server-side key backups") over real HTTP: backup
 * versions created, read, updated and deleted; keys uploaded, read and deleted at all three
 * levels (all rooms, one room, one session) with `etag` and `count`; the spec's rule for which
 * key of a session stays; `M_WRONG_ROOM_KEYS_VERSION` and `M_NOT_FOUND`; two users' backups kept
 * apart; bad input refused with a 400; a deactivated user's backups deleted; everything still
 * there after a restart. Run on SQLite
 * (key-backup-api.test.ts) and PostgreSQL (key-backup-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type JsonResponse,
  type RegisteredUser,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { suiteRequests } from './suite-requests.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';

type Json = Record<string, unknown>;

/** `KeyBackupData` whose `session_data` carries `mark`, to tell which upload was kept. */
function keyData(mark: string, isVerified = false, firstMessageIndex = 0, forwardedCount = 0) {
  return {
    first_message_index: firstMessageIndex,
    forwarded_count: forwardedCount,
    is_verified: isVerified,
    session_data: { ephemeral: 'e', ciphertext: mark, mac: 'm' },
  };
}

function authData(publicKey: string): Json {
  return { public_key: publicKey, signatures: { '@x:test.local': { 'ed25519:D': 'sig' } } };
}

/** Registers the key-backup tests against servers started with `options()`. */
export function keyBackupSuite(options: () => TestServerOptions = () => ({})): void {
  describe('server-side key backups', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(options());
    });
    afterAll(() => server.stop());

    const req = (
      user: RegisteredUser,
      method: string,
      path: string,
      body?: unknown,
    ): Promise<JsonResponse<Json>> =>
      server.client.request(method, `${V3}${path}`, {
        token: user.accessToken,
        ...(body !== undefined ? { body } : {}),
      });

    /** Asserts a 200 and returns its body. */
    const { v3: ok } = suiteRequests(() => server);

    async function createVersion(user: RegisteredUser, key = 'pk'): Promise<string> {
      const body = await ok(user, 'POST', '/room_keys/version', {
        algorithm: ALGORITHM,
        auth_data: authData(key),
      });
      expect(typeof body['version']).toBe('string');
      return String(body['version']);
    }

    it('creates, reads, updates and deletes backup versions', async () => {
      const alice = await server.client.registerUser('kb-alice');
      const none = await req(alice, 'GET', '/room_keys/version');
      expect(none.status).toBe(404);
      expect(none.body['errcode']).toBe('M_NOT_FOUND');

      expect(await createVersion(alice, 'one')).toBe('1');
      expect(await ok(alice, 'GET', '/room_keys/version')).toEqual({
        algorithm: ALGORITHM,
        auth_data: authData('one'),
        count: 0,
        etag: expect.any(String),
        version: '1',
      });
      // A new version is the current one; the older stays readable by its version.
      expect(await createVersion(alice, 'two')).toBe('2');
      expect((await ok(alice, 'GET', '/room_keys/version'))['version']).toBe('2');
      expect((await ok(alice, 'GET', '/room_keys/version/1'))['auth_data']).toEqual(
        authData('one'),
      );
      // The legacy r0 prefix serves the same.
      const r0 = await server.client.request('GET', '/_matrix/client/r0/room_keys/version/2', {
        token: alice.accessToken,
      });
      expect(r0.status).toBe(200);
      expect(r0.body['auth_data']).toEqual(authData('two'));

      // Only auth_data changes; the algorithm must match and a body version must be the path's.
      expect(
        await ok(alice, 'PUT', '/room_keys/version/2', {
          algorithm: ALGORITHM,
          auth_data: authData('two-b'),
          version: '2',
        }),
      ).toEqual({});
      expect((await ok(alice, 'GET', '/room_keys/version/2'))['auth_data']).toEqual(
        authData('two-b'),
      );
      for (const body of [
        { algorithm: 'org.example.other', auth_data: {} },
        { algorithm: ALGORITHM, auth_data: {}, version: '1' },
      ]) {
        const refused = await req(alice, 'PUT', '/room_keys/version/2', body);
        expect(refused.status).toBe(400);
        expect(refused.body['errcode']).toBe('M_INVALID_PARAM');
      }
      const unknownPut = await req(alice, 'PUT', '/room_keys/version/7', {
        algorithm: ALGORITHM,
        auth_data: {},
      });
      expect(unknownPut.status).toBe(404);
      expect(unknownPut.body['errcode']).toBe('M_NOT_FOUND');

      // Deleting the current version makes the next highest current; deleting twice succeeds;
      // a version that never existed is 404; a deleted number is never handed out again.
      expect(await ok(alice, 'DELETE', '/room_keys/version/2')).toEqual({});
      for (const path of ['/room_keys/version/2', '/room_keys/keys?version=2']) {
        const gone = await req(alice, 'GET', path);
        expect(gone.status).toBe(404);
        expect(gone.body['errcode']).toBe('M_NOT_FOUND');
      }
      expect((await ok(alice, 'GET', '/room_keys/version'))['version']).toBe('1');
      expect(await ok(alice, 'DELETE', '/room_keys/version/2')).toEqual({});
      const deletedPut = await req(alice, 'PUT', '/room_keys/version/2', {
        algorithm: ALGORITHM,
        auth_data: {},
      });
      expect(deletedPut.status).toBe(404);
      for (const version of ['9', '0', '01', '-1', 'abc', '1.0', '99999999999999999999']) {
        const never = await req(alice, 'DELETE', `/room_keys/version/${enc(version)}`);
        expect(never.status).toBe(404);
        expect(never.body['errcode']).toBe('M_NOT_FOUND');
        expect((await req(alice, 'GET', `/room_keys/version/${enc(version)}`)).status).toBe(404);
      }
      expect(await createVersion(alice, 'three')).toBe('3');
      expect(await ok(alice, 'DELETE', '/room_keys/version/3')).toEqual({});
      expect(await ok(alice, 'DELETE', '/room_keys/version/1')).toEqual({});
      expect((await req(alice, 'GET', '/room_keys/version')).status).toBe(404);
    });

    it('stores, reads and deletes keys at all three levels, with etag and count', async () => {
      const bob = await server.client.registerUser('kb-bob');
      const version = await createVersion(bob);
      const q = `?version=${version}`;
      const room = '!room:test.local';
      const other = '!other:test.local';
      // Megolm session IDs are unpadded base64: `/` and `+` travel percent-encoded.
      const slashy = 'ab/cd+ef';

      const empty = await ok(bob, 'GET', '/room_keys/version');
      expect(empty['count']).toBe(0);
      const one = await ok(
        bob,
        'PUT',
        `/room_keys/keys/${enc(room)}/${enc(slashy)}${q}`,
        keyData('k1'),
      );
      expect(one).toEqual({ etag: expect.any(String), count: 1 });
      expect(one['etag']).not.toBe(empty['etag']);
      const three = await ok(bob, 'PUT', `/room_keys/keys/${enc(room)}${q}`, {
        sessions: { s2: keyData('k2'), s3: keyData('k3', true, 4, 1) },
      });
      expect(three['count']).toBe(3);
      expect(three['etag']).not.toBe(one['etag']);
      const four = await ok(bob, 'PUT', `/room_keys/keys${q}`, {
        rooms: { [other]: { sessions: { s4: keyData('k4') } }, [room]: { sessions: {} } },
      });
      expect(four['count']).toBe(4);
      // An upload that changes nothing (same key again) keeps the etag.
      expect(await ok(bob, 'PUT', `/room_keys/keys/${enc(other)}/s4${q}`, keyData('k4'))).toEqual(
        four,
      );
      const info = await ok(bob, 'GET', '/room_keys/version');
      expect(info['count']).toBe(4);
      expect(info['etag']).toBe(four['etag']);
      expect((await ok(bob, 'GET', `/room_keys/version/${version}`))['etag']).toBe(four['etag']);

      expect(await ok(bob, 'GET', `/room_keys/keys${q}`)).toEqual({
        rooms: {
          [room]: {
            sessions: { [slashy]: keyData('k1'), s2: keyData('k2'), s3: keyData('k3', true, 4, 1) },
          },
          [other]: { sessions: { s4: keyData('k4') } },
        },
      });
      expect(await ok(bob, 'GET', `/room_keys/keys/${enc(other)}${q}`)).toEqual({
        sessions: { s4: keyData('k4') },
      });
      expect(await ok(bob, 'GET', `/room_keys/keys/${enc('!none:test.local')}${q}`)).toEqual({
        sessions: {},
      });
      expect(await ok(bob, 'GET', `/room_keys/keys/${enc(room)}/${enc(slashy)}${q}`)).toEqual(
        keyData('k1'),
      );
      const missing = await req(bob, 'GET', `/room_keys/keys/${enc(room)}/nope${q}`);
      expect(missing.status).toBe(404);
      expect(missing.body['errcode']).toBe('M_NOT_FOUND');

      const afterSession = await ok(bob, 'DELETE', `/room_keys/keys/${enc(room)}/s2${q}`);
      expect(afterSession['count']).toBe(3);
      expect(afterSession['etag']).not.toBe(four['etag']);
      // Deleting what is not there changes nothing.
      expect(await ok(bob, 'DELETE', `/room_keys/keys/${enc(room)}/s2${q}`)).toEqual(afterSession);
      expect(await ok(bob, 'DELETE', `/room_keys/keys/${enc(room)}${q}`)).toEqual({
        etag: expect.any(String),
        count: 1,
      });
      expect(await ok(bob, 'GET', `/room_keys/keys/${enc(room)}${q}`)).toEqual({ sessions: {} });
      expect((await ok(bob, 'DELETE', `/room_keys/keys${q}`))['count']).toBe(0);
      expect(await ok(bob, 'GET', `/room_keys/keys${q}`)).toEqual({ rooms: {} });
      expect((await ok(bob, 'GET', '/room_keys/version'))['count']).toBe(0);

      // Keys may be deleted from (and read from) an older version, not uploaded to it.
      await ok(bob, 'PUT', `/room_keys/keys/${enc(room)}/old${q}`, keyData('old'));
      const newer = await createVersion(bob);
      expect(await ok(bob, 'GET', `/room_keys/keys/${enc(room)}/old${q}`)).toEqual(keyData('old'));
      expect((await ok(bob, 'GET', `/room_keys/keys?version=${newer}`))['rooms']).toEqual({});
      expect((await ok(bob, 'DELETE', `/room_keys/keys/${enc(room)}/old${q}`))['count']).toBe(0);

      // Deleting a version deletes its keys.
      await ok(bob, 'PUT', `/room_keys/keys/${enc(room)}/doomed?version=${newer}`, keyData('d'));
      await ok(bob, 'DELETE', `/room_keys/version/${newer}`);
      const rows = await server.services.ctx.db.queryOne<{ n: number }>(
        'SELECT COUNT(*) AS n FROM key_backup_sessions WHERE user_id = $1 AND version = $2',
        [bob.userId, Number(newer)],
      );
      expect(Number(rows?.n)).toBe(0);
    });

    it("keeps a session's key as the spec says: verified, then lower first_message_index, then lower forwarded_count", async () => {
      const carol = await server.client.registerUser('kb-carol');
      const version = await createVersion(carol);
      const path = `/room_keys/keys/${enc('!r:test.local')}/s?version=${version}`;
      const stored = async () => (await ok(carol, 'GET', path))['session_data'] as Json;

      let etag = (await ok(carol, 'PUT', path, keyData('start', false, 5, 1)))['etag'];
      // [upload, kept?]
      const steps: [ReturnType<typeof keyData>, boolean][] = [
        [keyData('higher index', false, 6, 0), false],
        [keyData('more forwarded', false, 5, 2), false],
        [keyData('same', false, 5, 1), false],
        [keyData('less forwarded', false, 5, 0), true],
        [keyData('verified', true, 10, 5), true],
        [keyData('unverified lower index', false, 0, 0), false],
        [keyData('verified lower index', true, 3, 9), true],
        [keyData('verified higher index', true, 4, 0), false],
        [keyData('verified less forwarded', true, 3, 8), true],
      ];
      for (const [upload, replaces] of steps) {
        const before = await stored();
        const answer = await ok(carol, 'PUT', path, upload);
        expect(answer['count']).toBe(1);
        if (replaces) {
          expect(await stored()).toEqual(upload.session_data);
          expect(answer['etag']).not.toBe(etag);
        } else {
          expect(await stored()).toEqual(before);
          expect(answer['etag']).toBe(etag);
        }
        etag = answer['etag'];
      }
      // The same rule within a batch upload, each session on its own.
      const batch = await ok(carol, 'PUT', `/room_keys/keys?version=${version}`, {
        rooms: {
          '!r:test.local': {
            sessions: { s: keyData('batch loses', false, 0, 0), t: keyData('new') },
          },
        },
      });
      expect(batch['count']).toBe(2);
      expect(await stored()).toEqual(keyData('verified less forwarded').session_data);
    });

    it('applies the rule to each session of an upload larger than one statement holds', async () => {
      const dan = await server.client.registerUser('kb-dan');
      const version = await createVersion(dan);
      const rooms = ['!a:test.local', '!b:test.local'];
      // 2 × 250 sessions: more than one read (200 keys) and one write (80 rows) take.
      const ids = Array.from({ length: 250 }, (_, i) => `s${i}`);
      const upload = (mark: (i: number) => ReturnType<typeof keyData>) =>
        ok(dan, 'PUT', `/room_keys/keys?version=${version}`, {
          rooms: Object.fromEntries(
            rooms.map((room) => [
              room,
              { sessions: Object.fromEntries(ids.map((id, i) => [id, mark(i)])) },
            ]),
          ),
        });
      const first = await upload((i) => keyData(`first ${i}`, false, 5, 1));
      expect(first['count']).toBe(500);
      // Even sessions get a better key (lower index), odd ones a worse one (higher index).
      const second = await upload((i) => keyData(`second ${i}`, false, i % 2 === 0 ? 4 : 6, 1));
      expect(second['count']).toBe(500);
      expect(second['etag']).not.toBe(first['etag']);
      const all = await ok(dan, 'GET', `/room_keys/keys?version=${version}`);
      const byRoom = all['rooms'] as Record<string, { sessions: Record<string, Json> }>;
      for (const room of rooms) {
        const sessions = byRoom[room]?.sessions ?? {};
        expect(Object.keys(sessions)).toHaveLength(250);
        ids.forEach((id, i) => {
          const mark = i % 2 === 0 ? `second ${i}` : `first ${i}`;
          expect(sessions[id]?.['session_data']).toEqual(keyData(mark).session_data);
        });
      }
      // Nothing better: no change, the etag stays.
      const third = await upload((i) => keyData(`third ${i}`, false, 9, 9));
      expect(third).toEqual(second);
    });

    it('answers M_WRONG_ROOM_KEYS_VERSION for an upload to any but the current version, M_NOT_FOUND without one', async () => {
      const dave = await server.client.registerUser('kb-dave');
      const body = keyData('x');
      const noBackup = await req(dave, 'PUT', '/room_keys/keys/!r:test.local/s?version=1', body);
      expect(noBackup.status).toBe(404);
      expect(noBackup.body['errcode']).toBe('M_NOT_FOUND');

      const first = await createVersion(dave);
      const second = await createVersion(dave);
      const uploads: [string, unknown][] = [
        ['/room_keys/keys/!r:test.local/s', body],
        ['/room_keys/keys/!r:test.local', { sessions: { s: body } }],
        ['/room_keys/keys', { rooms: { '!r:test.local': { sessions: { s: body } } } }],
      ];
      for (const [path, upload] of uploads) {
        for (const version of [first, '42', 'abc']) {
          const wrong = await req(dave, 'PUT', `${path}?version=${version}`, upload);
          expect(wrong.status).toBe(403);
          expect(wrong.body).toEqual({
            errcode: 'M_WRONG_ROOM_KEYS_VERSION',
            error: expect.any(String),
            current_version: second,
          });
        }
        expect((await req(dave, 'PUT', `${path}?version=${second}`, upload)).status).toBe(200);
      }
      // Nothing reached the older version.
      expect(await ok(dave, 'GET', `/room_keys/keys?version=${first}`)).toEqual({ rooms: {} });

      // Reads and deletes of unknown or deleted versions are 404.
      await ok(dave, 'DELETE', `/room_keys/version/${first}`);
      for (const version of [first, '42', 'abc']) {
        for (const [method, path] of [
          ['GET', '/room_keys/keys'],
          ['GET', '/room_keys/keys/!r:test.local'],
          ['GET', '/room_keys/keys/!r:test.local/s'],
          ['DELETE', '/room_keys/keys'],
          ['DELETE', '/room_keys/keys/!r:test.local'],
          ['DELETE', '/room_keys/keys/!r:test.local/s'],
        ] as const) {
          const missing = await req(dave, method, `${path}?version=${version}`);
          expect(missing.status).toBe(404);
          expect(missing.body['errcode']).toBe('M_NOT_FOUND');
        }
      }
      // With every version deleted, an upload has no backup to go to.
      await ok(dave, 'DELETE', `/room_keys/version/${second}`);
      const none = await req(
        dave,
        'PUT',
        `/room_keys/keys/!r:test.local/s?version=${second}`,
        body,
      );
      expect(none.status).toBe(404);
      expect(none.body['errcode']).toBe('M_NOT_FOUND');
    });

    it("keeps each user's backups to themselves", async () => {
      const erin = await server.client.registerUser('kb-erin');
      const frank = await server.client.registerUser('kb-frank');
      const version = await createVersion(erin, 'erin');
      await ok(erin, 'PUT', `/room_keys/keys/!r:test.local/s?version=${version}`, keyData('erin'));

      // Frank sees none of erin's backup and cannot touch it.
      expect((await req(frank, 'GET', '/room_keys/version')).status).toBe(404);
      expect((await req(frank, 'GET', `/room_keys/version/${version}`)).status).toBe(404);
      expect((await req(frank, 'GET', `/room_keys/keys?version=${version}`)).status).toBe(404);
      expect((await req(frank, 'DELETE', `/room_keys/version/${version}`)).status).toBe(404);
      expect(
        (
          await req(frank, 'PUT', `/room_keys/version/${version}`, {
            algorithm: ALGORITHM,
            auth_data: {},
          })
        ).status,
      ).toBe(404);
      expect(
        (
          await req(
            frank,
            'PUT',
            `/room_keys/keys/!r:test.local/s?version=${version}`,
            keyData('f'),
          )
        ).status,
      ).toBe(404);

      // Frank's own backup is numbered on its own and holds only his keys.
      expect(await createVersion(frank, 'frank')).toBe(version);
      await ok(
        frank,
        'PUT',
        `/room_keys/keys/!r:test.local/s?version=${version}`,
        keyData('frank'),
      );
      await ok(frank, 'DELETE', `/room_keys/keys?version=${version}`);
      expect(await ok(erin, 'GET', `/room_keys/keys?version=${version}`)).toEqual({
        rooms: { '!r:test.local': { sessions: { s: keyData('erin') } } },
      });
      expect((await ok(erin, 'GET', '/room_keys/version'))['auth_data']).toEqual(authData('erin'));
      expect((await ok(frank, 'GET', '/room_keys/version'))['auth_data']).toEqual(
        authData('frank'),
      );
      const noToken = await server.client.request('GET', `${V3}/room_keys/version`);
      expect(noToken.status).toBe(401);
    });

    it('refuses bad input with a 400, never a 5xx', async () => {
      const gina = await server.client.registerUser('kb-gina');
      const version = await createVersion(gina);
      const q = `?version=${version}`;
      const good = keyData('g');
      const cases: [string, string, unknown, readonly string[]][] = [
        ['POST', '/room_keys/version', {}, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: 1, auth_data: {} }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: '', auth_data: {} }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: ALGORITHM }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: ALGORITHM, auth_data: 'x' }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: ALGORITHM, auth_data: [] }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', { algorithm: ALGORITHM, auth_data: null }, ['M_BAD_JSON']],
        ['POST', '/room_keys/version', [1], ['M_BAD_JSON']],
        ['PUT', `/room_keys/version/${version}`, { auth_data: {} }, ['M_BAD_JSON']],
        [
          'PUT',
          `/room_keys/version/${version}`,
          { algorithm: ALGORITHM, auth_data: {}, version: 1 },
          ['M_BAD_JSON'],
        ],
        ['PUT', `/room_keys/keys/!r:test.local/s${q}`, {}, ['M_BAD_JSON']],
        ['PUT', `/room_keys/keys/!r:test.local/s${q}`, [good], ['M_BAD_JSON']],
        ...(
          [
            ['first_message_index', '0'],
            ['first_message_index', -1],
            ['first_message_index', null],
            ['forwarded_count', true],
            ['is_verified', 'yes'],
            ['is_verified', 0],
            ['session_data', 'data'],
            ['session_data', ['a']],
          ] as const
        ).map(([field, value]): [string, string, unknown, readonly string[]] => [
          'PUT',
          `/room_keys/keys/!r:test.local/s${q}`,
          { ...good, [field]: value },
          ['M_BAD_JSON'],
        ]),
        ['PUT', `/room_keys/keys/!r:test.local${q}`, {}, ['M_BAD_JSON']],
        ['PUT', `/room_keys/keys/!r:test.local${q}`, { sessions: [] }, ['M_BAD_JSON']],
        ['PUT', `/room_keys/keys/!r:test.local${q}`, { sessions: { s: 1 } }, ['M_BAD_JSON']],
        [
          'PUT',
          `/room_keys/keys/!r:test.local${q}`,
          { sessions: { s: { ...good, is_verified: 1 } } },
          ['M_BAD_JSON'],
        ],
        [
          'PUT',
          `/room_keys/keys/!r:test.local${q}`,
          { sessions: { '': good } },
          ['M_INVALID_PARAM'],
        ],
        ['PUT', `/room_keys/keys${q}`, {}, ['M_BAD_JSON']],
        ['PUT', `/room_keys/keys${q}`, { rooms: [] }, ['M_BAD_JSON']],
        ['PUT', `/room_keys/keys${q}`, { rooms: { '!r:test.local': [] } }, ['M_BAD_JSON']],
        [
          'PUT',
          `/room_keys/keys${q}`,
          { rooms: { 'not-a-room': { sessions: { s: good } } } },
          ['M_INVALID_PARAM'],
        ],
        ['PUT', `/room_keys/keys/not-a-room/s${q}`, good, ['M_INVALID_PARAM']],
        ['GET', `/room_keys/keys/not-a-room${q}`, undefined, ['M_INVALID_PARAM']],
        ['DELETE', `/room_keys/keys/not-a-room/s${q}`, undefined, ['M_INVALID_PARAM']],
        ['GET', '/room_keys/keys', undefined, ['M_MISSING_PARAM']],
        ['DELETE', '/room_keys/keys/!r:test.local', undefined, ['M_MISSING_PARAM']],
        ['PUT', '/room_keys/keys/!r:test.local/s', good, ['M_MISSING_PARAM']],
      ];
      for (const [method, path, body, errcodes] of cases) {
        const response = await req(gina, method, path, body);
        const what = `${method} ${path} ${JSON.stringify(body)}`;
        expect(response.status, what).toBe(400);
        expect(errcodes, what).toContain(response.body['errcode']);
      }
      // Floats, out-of-range integers and broken JSON are refused by the body parser.
      for (const rawBody of [
        '{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{"x":1.5}}',
        '{"algorithm":"m.megolm_backup.v1.curve25519-aes-sha2","auth_data":{"x":9007199254740993}}',
        '{',
        '',
      ]) {
        const response = await server.client.request('POST', `${V3}/room_keys/version`, {
          token: gina.accessToken,
          rawBody,
          headers: { 'Content-Type': 'application/json' },
        });
        expect(response.status, rawBody).toBe(400);
        expect(['M_BAD_JSON', 'M_NOT_JSON'], rawBody).toContain(response.body['errcode']);
      }
      const float = await server.client.request('PUT', `${V3}/room_keys/keys/!r:test.local/s${q}`, {
        token: gina.accessToken,
        rawBody:
          '{"first_message_index":1.5,"forwarded_count":0,"is_verified":false,"session_data":{}}',
        headers: { 'Content-Type': 'application/json' },
      });
      expect(float.status).toBe(400);
      expect(float.body['errcode']).toBe('M_BAD_JSON');
      // Nothing of the refused uploads was stored.
      expect((await ok(gina, 'GET', '/room_keys/version'))['count']).toBe(0);
      expect((await ok(gina, 'GET', '/room_keys/version'))['version']).toBe(version);
    });

    it('deletes a user’s backups, versions and keys, when the account is deactivated', async () => {
      const [ivy, jon] = [
        await server.client.registerUser('kb-ivy'),
        await server.client.registerUser('kb-jon'),
      ];
      for (const who of [ivy, jon]) {
        const version = await createVersion(who);
        await ok(who, 'PUT', `/room_keys/keys?version=${version}`, {
          rooms: { '!a:test.local': { sessions: { s1: keyData('x') } } },
        });
      }
      const rows = async (userId: string) => {
        const db = server.services.ctx.db;
        const count = async (table: string) =>
          Number(
            (
              await db.queryOne<{ n: number | string }>(
                `SELECT COUNT(*) AS n FROM ${table} WHERE user_id = $1`,
                [userId],
              )
            )?.n,
          );
        return [await count('key_backup_versions'), await count('key_backup_sessions')];
      };
      expect(await rows(ivy.userId)).toEqual([1, 1]);
      await ok(ivy, 'POST', '/account/deactivate', {
        auth: {
          type: 'm.login.password',
          user: 'kb-ivy',
          password: 'correct horse battery staple',
        },
      });
      expect(await rows(ivy.userId)).toEqual([0, 0]);
      expect(await rows(jon.userId)).toEqual([1, 1]);
    });

    it('keeps versions and keys across a restart', async () => {
      const hank = await server.client.registerUser('kb-hank');
      const version = await createVersion(hank, 'hank');
      const uploaded = await ok(hank, 'PUT', `/room_keys/keys?version=${version}`, {
        rooms: {
          '!a:test.local': { sessions: { s1: keyData('a1', true, 2, 0), s2: keyData('a2') } },
          '!b:test.local': { sessions: { s3: keyData('b3', false, 0, 3) } },
        },
      });
      const before = await ok(hank, 'GET', `/room_keys/keys?version=${version}`);
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      const info = await ok(hank, 'GET', '/room_keys/version');
      expect(info).toEqual({
        algorithm: ALGORITHM,
        auth_data: authData('hank'),
        count: 3,
        etag: uploaded['etag'],
        version,
      });
      expect(await ok(hank, 'GET', `/room_keys/keys?version=${version}`)).toEqual(before);
      // Numbering goes on after the restart.
      expect(Number(await createVersion(hank))).toBe(Number(version) + 1);
    });
  });
}
