/**
 * Answers of `POST /search` validate against the spec's OpenAPI schema (search.yaml, through
 * test/openapi.ts): plain, with every option (`event_context` with profiles, `include_state`,
 * `groupings`), a later page, an empty category, and the documented 400.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';

import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('spec schemas of POST /search', () => {
  let server: TestServer;
  let alice: RegisteredUser;
  let room: string;

  async function check(path: string, body: unknown, status = 200) {
    const response = await server.client.request('POST', path, {
      token: alice.accessToken,
      body,
    });
    if (response.status !== status) {
      throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    await spec.expectValid('POST', path, status, response.body);
    return response;
  }

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    await server.client.request('PUT', `${V3}/profile/${enc(alice.userId)}/avatar_url`, {
      token: alice.accessToken,
      body: { avatar_url: 'mxc://example.org/avatar' },
    });
    const created = await server.client.request('POST', `${V3}/createRoom`, {
      token: alice.accessToken,
      body: { name: 'Banana room', topic: 'bananas' },
    });
    room = String(created.body['room_id']);
    for (let i = 0; i < 4; i++) {
      await server.client.request('PUT', `${V3}/rooms/${enc(room)}/send/m.room.message/s${i}`, {
        token: alice.accessToken,
        body: { msgtype: 'm.text', body: `banana ${i}` },
      });
    }
  });
  afterAll(() => server.stop());

  it('plain, with every option, and a later page', async () => {
    await check(`${V3}/search`, {
      search_categories: { room_events: { search_term: 'banana' } },
    });
    const full = await check(`${V3}/search`, {
      search_categories: {
        room_events: {
          search_term: 'banana',
          keys: ['content.body', 'content.name', 'content.topic'],
          order_by: 'recent',
          filter: { limit: 2, rooms: [room] },
          event_context: { before_limit: 2, after_limit: 2, include_profile: true },
          include_state: true,
          groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
        },
      },
    });
    const categories = full.body['search_categories'] as Record<string, Record<string, unknown>>;
    const next = String(categories['room_events']?.['next_batch']);
    await check(`${V3}/search?next_batch=${enc(next)}`, {
      search_categories: {
        room_events: { search_term: 'banana', order_by: 'recent', filter: { limit: 2 } },
      },
    });
    await check(`${V3}/search`, { search_categories: {} });
  });

  it('400 for a malformed request', async () => {
    await check(`${V3}/search`, { search_categories: { room_events: { keys: 3 } } }, 400);
    await check(
      `${V3}/search?next_batch=nonsense`,
      { search_categories: { room_events: { search_term: 'x' } } },
      400,
    );
  });
});
