/**
 * Responses of the user directory, third-party lookup, VoIP and content-report endpoints
 * validate against the spec's OpenAPI schemas (users.yaml, third_party_lookup.yaml, voip.yaml,
 * report_content.yaml, through test/openapi.ts): every operation's 200 and its documented 404s.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('spec schemas of the user directory, third-party, VoIP and report endpoints', () => {
  let server: TestServer;
  let plain: TestServer;
  let alice: RegisteredUser;
  let bob: RegisteredUser;
  beforeAll(async () => {
    [server, plain] = await Promise.all([
      startTestServer({
        file: { turn: { uris: ['turn:turn.test.local:3478'], shared_secret: 'x' } },
      }),
      startTestServer(),
    ]);
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
  });
  afterAll(async () => {
    await Promise.all([server.stop(), plain.stop()]);
  });

  async function check(
    method: string,
    path: string,
    status = 200,
    body?: unknown,
    on: TestServer = server,
    token = alice.accessToken,
  ) {
    return spec.expectRequest(on.client, method, path, { token, status, body });
  }

  it('user directory search', async () => {
    const room = await check('POST', `${V3}/createRoom`, 200, { preset: 'public_chat' });
    const roomId = String(room.body['room_id']);
    await check('POST', `${V3}/join/${enc(roomId)}`, 200, {}, server, bob.accessToken);
    await check(
      'PUT',
      `${V3}/profile/${enc(bob.userId)}/displayname`,
      200,
      { displayname: 'Bob' },
      server,
      bob.accessToken,
    );
    await check(
      'PUT',
      `${V3}/profile/${enc(bob.userId)}/avatar_url`,
      200,
      { avatar_url: 'mxc://test.local/b' },
      server,
      bob.accessToken,
    );
    await check('POST', `${V3}/user_directory/search`, 200, { search_term: 'bob' });
    await check('POST', `${V3}/user_directory/search`, 200, { search_term: 'test', limit: 1 });
    await check('POST', '/_matrix/client/r0/user_directory/search', 200, { search_term: 'none' });
  });

  it('third-party lookups', async () => {
    await check('GET', `${V3}/thirdparty/protocols`);
    await check('GET', `${V3}/thirdparty/protocol/irc`, 404);
    await check('GET', `${V3}/thirdparty/location/irc`, 404);
    await check('GET', `${V3}/thirdparty/user/irc`, 404);
    await check('GET', `${V3}/thirdparty/location?alias=${enc('#a:test.local')}`);
    await check('GET', `${V3}/thirdparty/user?userid=${enc('@a:test.local')}`);
  });

  it('TURN server', async () => {
    await check('GET', `${V3}/voip/turnServer`);
    const caller = await plain.client.registerUser('caller');
    await check('GET', `${V3}/voip/turnServer`, 404, undefined, plain, caller.accessToken);
  });

  it('content reports', async () => {
    const room = await check('POST', `${V3}/createRoom`, 200, {});
    const roomId = enc(String(room.body['room_id']));
    const sent = await check('PUT', `${V3}/rooms/${roomId}/send/m.room.message/t1`, 200, {
      msgtype: 'm.text',
      body: 'hi',
    });
    const eventId = enc(String(sent.body['event_id']));
    await check('POST', `${V3}/rooms/${roomId}/report/${eventId}`, 200, { reason: 'bad' });
    await check('POST', `${V3}/rooms/${roomId}/report/${enc('$nope')}`, 404, { reason: 'bad' });
    await check('POST', `${V3}/rooms/${roomId}/report`, 200, { reason: '' });
    await check('POST', `${V3}/rooms/${enc('!nope:test.local')}/report`, 404, { reason: '' });
    await check('POST', `${V3}/users/${enc(bob.userId)}/report`, 200, { reason: 'spam' });
    await check('POST', `${V3}/users/${enc('@nope:test.local')}/report`, 404, { reason: 'x' });
  });
});
