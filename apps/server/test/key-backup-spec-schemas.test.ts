/**
 * Responses of the server-side key backup endpoints (`/room_keys/version…`, `/room_keys/keys…`)
 * validate against the spec's OpenAPI schemas (key_backup.yaml, through test/openapi.ts): every
 * operation's 200, and its documented 403 and 404 answers.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const ALGORITHM = 'm.megolm_backup.v1.curve25519-aes-sha2';
const ROOM = enc('!room:test.local');

const keyData = (mark: string) => ({
  first_message_index: 1,
  forwarded_count: 0,
  is_verified: true,
  session_data: { ephemeral: 'base64+ephemeral+key', ciphertext: mark, mac: 'mac' },
});

describe('spec schemas of the key backup endpoints', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer();
    token = (await server.client.registerUser('alice')).accessToken;
  });
  afterAll(() => server.stop());

  const check = (method: string, path: string, status = 200, body?: unknown) =>
    spec.expectRequest(server.client, method, path, { token, status, body });

  it('backup versions', async () => {
    await check('GET', `${V3}/room_keys/version`, 404);
    const authData = {
      public_key: 'abcdefg',
      signatures: { '@alice:test.local': { 'ed25519:D': 's' } },
    };
    const created = await check('POST', `${V3}/room_keys/version`, 200, {
      algorithm: ALGORITHM,
      auth_data: authData,
    });
    const version = String(created.body['version']);
    await check('GET', `${V3}/room_keys/version`);
    await check('GET', `${V3}/room_keys/version/${version}`);
    await check('GET', '/_matrix/client/r0/room_keys/version');
    await check('PUT', `${V3}/room_keys/version/${version}`, 200, {
      algorithm: ALGORITHM,
      auth_data: { ...authData, public_key: 'hijklmn' },
      version,
    });
    await check('PUT', `${V3}/room_keys/version/${version}`, 400, {
      algorithm: 'org.example.other',
      auth_data: authData,
    });
    await check('PUT', `${V3}/room_keys/version/99`, 404, { algorithm: ALGORITHM, auth_data: {} });
    await check('GET', `${V3}/room_keys/version/99`, 404);
    await check('DELETE', `${V3}/room_keys/version/99`, 404);
    await check('DELETE', `${V3}/room_keys/version/${version}`);
    await check('DELETE', `${V3}/room_keys/version/${version}`);
  });

  it('keys at all three levels', async () => {
    const created = await check('POST', `${V3}/room_keys/version`, 200, {
      algorithm: ALGORITHM,
      auth_data: { public_key: 'abcdefg' },
    });
    const version = String(created.body['version']);
    const q = `?version=${version}`;
    await check('PUT', `${V3}/room_keys/keys/${ROOM}/s1${q}`, 200, keyData('one'));
    await check('PUT', `${V3}/room_keys/keys/${ROOM}${q}`, 200, {
      sessions: { s2: keyData('two') },
    });
    await check('PUT', `${V3}/room_keys/keys${q}`, 200, {
      rooms: { '!other:test.local': { sessions: { s3: keyData('three') } } },
    });
    await check('GET', `${V3}/room_keys/version`);
    await check('GET', `${V3}/room_keys/keys${q}`);
    await check('GET', `${V3}/room_keys/keys/${ROOM}${q}`);
    await check('GET', `${V3}/room_keys/keys/${enc('!empty:test.local')}${q}`);
    await check('GET', `${V3}/room_keys/keys/${ROOM}/s1${q}`);
    await check('GET', `${V3}/room_keys/keys/${ROOM}/nope${q}`, 404);
    await check('GET', `${V3}/room_keys/keys${q}9`, 404);
    await check('GET', `${V3}/room_keys/keys/${ROOM}${q}9`, 404);

    // An upload to an older version: 403 with current_version.
    const newer = await check('POST', `${V3}/room_keys/version`, 200, {
      algorithm: ALGORITHM,
      auth_data: { public_key: 'newer' },
    });
    await check('PUT', `${V3}/room_keys/keys/${ROOM}/s1${q}`, 403, keyData('late'));
    await check('PUT', `${V3}/room_keys/keys/${ROOM}${q}`, 403, { sessions: {} });
    await check('PUT', `${V3}/room_keys/keys${q}`, 403, { rooms: {} });

    await check('DELETE', `${V3}/room_keys/keys/${ROOM}/s1${q}`);
    await check('DELETE', `${V3}/room_keys/keys/${ROOM}${q}`);
    await check('DELETE', `${V3}/room_keys/keys${q}`);
    await check('DELETE', `${V3}/room_keys/keys${q}9`, 404);
    await check('DELETE', `${V3}/room_keys/keys/${ROOM}${q}9`, 404);
    await check('DELETE', `${V3}/room_keys/keys/${ROOM}/s1${q}9`, 404);
    await check('DELETE', `${V3}/room_keys/version/${String(newer.body['version'])}`);
  });
});
