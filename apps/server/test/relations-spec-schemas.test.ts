/**
 * Responses of the relationship endpoints (`GET /relations/…` in its three forms, `GET
 * /threads`) validate against the spec's OpenAPI schemas (relations.yaml, threads_list.yaml,
 * through test/openapi.ts), their documented errors too; and the events that carry bundled
 * aggregations (`/event`, `/messages`, `/context`) still match their own schemas.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();

const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('spec schemas of the relationship endpoints', () => {
  let server: TestServer;
  let alice: RegisteredUser;
  let eve: RegisteredUser;
  let room: string;
  let root: string;
  let txn = 0;

  const check = (
    user: RegisteredUser,
    method: string,
    path: string,
    status = 200,
    body?: unknown,
  ) => spec.expectRequest(server.client, method, path, { token: user.accessToken, status, body });
  const send = async (content: Record<string, unknown>, type = 'm.room.message') => {
    txn += 1;
    const answer = await check(
      alice,
      'PUT',
      `${V3}/rooms/${room}/send/${enc(type)}/s${txn}`,
      200,
      content,
    );
    return String(answer.body['event_id']);
  };

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    eve = await server.client.registerUser('eve');
    const created = await check(alice, 'POST', `${V3}/createRoom`, 200, {});
    room = enc(String(created.body['room_id']));
    root = await send({ msgtype: 'm.text', body: 'root' });
    for (let i = 0; i < 3; i++) {
      await send({
        msgtype: 'm.text',
        body: `reply ${i}`,
        'm.relates_to': { rel_type: 'm.thread', event_id: root },
      });
    }
    await send({
      msgtype: 'm.text',
      body: '* edited',
      'm.new_content': { msgtype: 'm.text', body: 'edited' },
      'm.relates_to': { rel_type: 'm.replace', event_id: root },
    });
    await send({ 'm.relates_to': { rel_type: 'm.reference', event_id: root } }, 'org.example.ref');
  });
  afterAll(() => server.stop());

  it('GET /relations in its three forms', async () => {
    const base = `${V1}/rooms/${room}/relations/${enc(root)}`;
    const first = await check(alice, 'GET', `${base}?limit=2`);
    await check(alice, 'GET', `${base}?limit=2&from=${enc(String(first.body['next_batch']))}`);
    await check(alice, 'GET', `${base}?dir=f&recurse=true`);
    await check(alice, 'GET', `${base}/m.thread?limit=10&recurse=false`);
    await check(alice, 'GET', `${base}/m.thread/m.room.message`);
    await check(alice, 'GET', `${base}/m.replace/m.room.message?dir=f`);
    await check(alice, 'GET', `${V1}/rooms/${room}/relations/${enc('$missing')}`, 404);
    await check(eve, 'GET', base, 404);
    await check(alice, 'GET', `${base}?dir=x`, 400);
  });

  it('GET /threads', async () => {
    await check(alice, 'GET', `${V1}/rooms/${room}/threads`);
    await check(alice, 'GET', `${V1}/rooms/${room}/threads?include=participated&limit=1`);
    await check(alice, 'GET', `${V1}/rooms/${room}/threads?include=nobody`, 400);
    await check(alice, 'GET', `${V1}/rooms/${room}/threads?from=nonsense`, 400);
    await check(eve, 'GET', `${V1}/rooms/${room}/threads`, 403);
  });

  it('events with bundled aggregations', async () => {
    await check(alice, 'GET', `${V3}/rooms/${room}/event/${enc(root)}`);
    await check(alice, 'GET', `${V3}/rooms/${room}/messages?dir=b&limit=20`);
    await check(alice, 'GET', `${V3}/rooms/${room}/context/${enc(root)}?limit=4`);
  });
});
