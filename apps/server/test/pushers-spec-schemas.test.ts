/**
 * Responses of `GET /pushers` and `POST /pushers/set` validate against the spec's OpenAPI
 * schemas (pusher.yaml, through test/openapi.ts), and the notifications a push gateway receives
 * validate against the request body of the Push Gateway API (push-gateway/push_notifier.yaml).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { sharedDir } from '@weft/test-vectors';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { allowingLocalGateway, TestGateway } from './pushers-suite.ts';
import { createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const spec = new ClientServerSpec();
const V3 = '/_matrix/client/v3';

/** The request body schema of `POST /_matrix/push/v1/notify` (it has no `$ref`s). */
function notifyRequestSchema(): object {
  const file = join(sharedDir, 'matrix-spec/data/api/push-gateway/push_notifier.yaml');
  const api = parseYaml(readFileSync(file, 'utf8')) as Json;
  return api['paths']['/notify']['post']['requestBody']['content']['application/json']['schema'];
}

describe('spec schemas of the pusher endpoints and of push gateway notifications', () => {
  let server: TestServer;
  const gateway = new TestGateway();
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    await gateway.start();
    server = await startTestServer(allowingLocalGateway());
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
  });
  afterAll(async () => {
    await server.stop();
    await gateway.stop();
  });

  const check = (method: string, path: string, status = 200, body?: unknown) =>
    spec.expectRequest(server.client, method, path, { token: alice.accessToken, status, body });

  const pusher = (pushkey: string, data: Json = {}) => ({
    kind: 'http',
    app_id: 'org.example.app',
    pushkey,
    app_display_name: 'Example',
    device_display_name: 'Phone',
    lang: 'en-US',
    data: { url: gateway.url, ...data },
  });

  it('GET /pushers and POST /pushers/set', async () => {
    await check('GET', `${V3}/pushers`);
    await check('POST', `${V3}/pushers/set`, 200, { ...pusher('full'), profile_tag: 'xyz' });
    await check('POST', `${V3}/pushers/set`, 200, pusher('ids', { format: 'event_id_only' }));
    const listed = await check('GET', `${V3}/pushers`);
    expect((listed.body['pushers'] as unknown[]).length).toBe(2);
    await check('GET', '/_matrix/client/r0/pushers');
    await check('POST', `${V3}/pushers/set`, 400, { kind: 'http', app_id: 'a', pushkey: 'k' });
    await check('POST', `${V3}/pushers/set`, 400, pusher('bad', { url: 'https://h/x' }));
    await check('POST', `${V3}/pushers/set`, 200, {
      kind: null,
      app_id: 'org.example.app',
      pushkey: 'x',
    });
  });

  it('notifications sent to the gateway', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addFormat('int64', { type: 'number', validate: Number.isSafeInteger });
    const validate = ajv.compile(notifyRequestSchema());
    const roomId = await createRoom(server, bob, [alice], { name: 'Room' });
    await sendText(server, bob, roomId, 'hello');
    await gateway.waitFor('full');
    await gateway.waitFor('ids');
    expect(gateway.requests.length).toBeGreaterThanOrEqual(2);
    for (const request of gateway.requests) {
      expect(request.path).toBe('/_matrix/push/v1/notify');
      if (!validate(request.body)) {
        throw new Error(`${JSON.stringify(validate.errors)}\n${JSON.stringify(request.body)}`);
      }
    }
  });
});
