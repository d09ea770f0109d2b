/**
 * Responses of /sync, typing, receipts, read markers, send-to-device and the key endpoints
 * validate against the spec's OpenAPI schemas (`../shared/matrix-spec/data/api/client-server`,
 * through test/openapi.ts) — with every part of a sync response filled in: joined, invited and
 * left rooms, state, timeline, typing, receipts, room account data, to-device messages, device
 * lists, key counts and presence.
 */
import { generateSigningKey, type JsonObject, signJson } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('spec schemas of the sync, ephemeral, to-device and key endpoints', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  const spec = new ClientServerSpec();

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
    carol = await server.client.registerUser('carol');
  });
  afterAll(() => server.stop());

  /** Calls the server as `user` and checks the response against the spec's schema. */
  async function checked(
    user: TestUser,
    method: string,
    path: string,
    body?: unknown,
    status = 200,
  ): Promise<Json> {
    const response = await server.client.request<Json>(method, V3 + path, {
      token: user.accessToken,
      ...(body !== undefined ? { body } : {}),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(status);
    await spec.expectValid(method, V3 + (path.split('?')[0] ?? path), status, response.body);
    return response.body;
  }

  it('every part of initial and incremental sync responses', async () => {
    const roomId = await createRoom(server, alice, [bob, carol]);
    const before = await checked(bob, 'GET', '/sync');
    const eventId = await sendText(server, alice, roomId, 'hello');
    await checked(alice, 'GET', '/sync?set_presence=unavailable');
    await checked(alice, 'PUT', `/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, {
      typing: true,
      timeout: 30_000,
    });
    await checked(alice, 'POST', `/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, {
      thread_id: 'main',
    });
    await checked(bob, 'POST', `/rooms/${enc(roomId)}/read_markers`, {
      'm.fully_read': eventId,
      'm.read.private': eventId,
    });
    await checked(alice, 'PUT', '/sendToDevice/m.room_key_request/txn1', {
      messages: { [bob.userId]: { '*': { action: 'request_cancellation', request_id: 'r1' } } },
    });
    const invited = await createRoom(server, carol, [], { name: 'Invite' });
    await checked(carol, 'POST', `/rooms/${enc(invited)}/invite`, { user_id: bob.userId });
    const leaving = await createRoom(server, carol, [bob]);
    await checked(bob, 'POST', `/rooms/${enc(leaving)}/leave`, {});
    const key = generateSigningKey(carol.deviceId);
    const deviceKeys: JsonObject = signJson(
      {
        user_id: carol.userId,
        device_id: carol.deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
        keys: {
          [`curve25519:${carol.deviceId}`]: 'Y3VydmUyNTUxOSBrZXkgb2YgY2Fyb2wncyBkZXZpY2U',
          [`ed25519:${carol.deviceId}`]: key.publicKeyBase64,
        },
      },
      carol.userId,
      `ed25519:${carol.deviceId}`,
      key,
    );
    await checked(carol, 'POST', '/keys/upload', { device_keys: deviceKeys });

    const incremental = await checked(bob, 'GET', `/sync?since=${enc(before['next_batch'])}`);
    const joined = incremental['rooms']['join'][roomId];
    expect(joined['ephemeral']['events'].map((e: Json) => e['type']).sort()).toEqual([
      'm.receipt',
      'm.typing',
    ]);
    expect(joined['account_data']['events'][0]['type']).toBe('m.fully_read');
    expect(incremental['rooms']['invite'][invited]).toBeDefined();
    expect(incremental['rooms']['leave'][leaving]).toBeDefined();
    expect(incremental['to_device']['events']).toHaveLength(1);
    expect(incremental['device_lists']['changed']).toContain(carol.userId);
    expect(incremental['presence']['events'].length).toBeGreaterThan(0);

    const full = await checked(
      bob,
      'GET',
      `/sync?full_state=true&since=${enc(incremental['next_batch'])}&filter=${enc(
        JSON.stringify({ room: { include_leave: true, state: { lazy_load_members: true } } }),
      )}`,
    );
    expect(full['rooms']['join'][roomId]['state']['events'].length).toBeGreaterThan(0);
    await checked(bob, 'GET', '/sync?timeout=0', undefined);
  });

  it('key upload, query, claim and changes', async () => {
    const key = generateSigningKey(alice.deviceId);
    const signed = (value: JsonObject) =>
      signJson(value, alice.userId, `ed25519:${alice.deviceId}`, key);
    const token = (await checked(alice, 'GET', '/sync'))['next_batch'];
    await checked(alice, 'POST', '/keys/upload', {
      device_keys: signed({
        user_id: alice.userId,
        device_id: alice.deviceId,
        algorithms: ['m.olm.v1.curve25519-aes-sha2'],
        keys: {
          [`curve25519:${alice.deviceId}`]: 'YWxpY2UncyBjdXJ2ZTI1NTE5IGlkZW50aXR5IGtleQ',
          [`ed25519:${alice.deviceId}`]: key.publicKeyBase64,
        },
      }),
      one_time_keys: { 'signed_curve25519:AAAAAQ': signed({ key: 'b3RrIG9uZQ' }) },
      fallback_keys: { 'signed_curve25519:AAAAAg': signed({ key: 'ZmFsbGJhY2s', fallback: true }) },
    });
    await checked(bob, 'POST', '/keys/query', { device_keys: { [alice.userId]: [] } });
    const claimed = await checked(bob, 'POST', '/keys/claim', {
      one_time_keys: { [alice.userId]: { [alice.deviceId]: 'signed_curve25519' } },
    });
    expect(Object.keys(claimed['one_time_keys'][alice.userId][alice.deviceId])).toEqual([
      'signed_curve25519:AAAAAQ',
    ]);
    const now = (await checked(bob, 'GET', '/sync'))['next_batch'];
    await checked(bob, 'GET', `/keys/changes?from=${enc(token)}&to=${enc(now)}`);
  });

  it('error responses of these endpoints', async () => {
    await checked(
      bob,
      'PUT',
      `/rooms/!nope:test.local/typing/${enc(alice.userId)}`,
      { typing: true },
      403,
    );
    await checked(bob, 'GET', '/sync?since=nonsense', undefined, 400);
    await checked(bob, 'POST', '/keys/claim', {}, 400);
  });
});
