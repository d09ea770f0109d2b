/**
 * The federation read endpoints of spaces and jump to date (api/federation/hierarchy.ts,
 * timestamp-to-event.ts), answered by a real TLS server to another: `GET /hierarchy/{roomId}`
 * gives the space with its child events, the children the asking server may preview and the
 * ones it may not; `GET /timestamp_to_event/{roomId}` answers a server in the room and refuses one
 * that is not. B's client `GET /hierarchy` and `GET /room_summary` ask A about rooms B does not
 * know. Answers are validated against the server-server and client-server OpenAPI schemas.
 */
import { join } from 'node:path';

import { sharedDir } from '@weft/test-vectors';
import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createPublicRoom,
  roomWithMessages,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import type { Json } from './sync-helpers.ts';

const spec = new ClientServerSpec(join(sharedDir, 'matrix-spec/data/api/server-server'));
const clientSpec = new ClientServerSpec();
const enc = encodeURIComponent;

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let roomId: string;
let messages: string[];

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  ({ roomId, messages } = await roomWithMessages(federation, 3, 5));
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

async function ask(from: TestServer, path: string, query?: Record<string, string>) {
  const body = await from.services.federation.client.request<Json>(
    'a.test',
    'GET',
    path,
    undefined,
    {
      ...(query !== undefined ? { query } : {}),
      retry: false,
    },
  );
  const search = query === undefined ? '' : `?${new URLSearchParams(query)}`;
  await spec.expectValid('GET', path + search, 200, body);
  return body;
}

describe('GET /_matrix/federation/v1/hierarchy/{roomId}', () => {
  let space: string;
  let open: string;
  let secret: string;

  beforeAll(async () => {
    const client = federation.client('a.test');
    const owner = await client.registerUser('owner');
    space = await createPublicRoom(client, owner, {
      name: 'Space',
      creation_content: { type: 'm.space' },
    });
    open = await createPublicRoom(client, owner, { name: 'Open' });
    secret = await createPublicRoom(client, owner, {
      preset: 'private_chat',
      name: 'Secret',
    });
    for (const [child, suggested] of [
      [open, true],
      [secret, false],
      ['!unknown:elsewhere.test', true],
    ] as const) {
      const put = await client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${enc(space)}/state/m.space.child/${enc(child)}`,
        {
          token: owner.accessToken,
          body: { via: ['a.test'], ...(suggested ? { suggested } : {}) },
        },
      );
      expect(put.status).toBe(200);
    }
  }, 30_000);

  it('answers the space, its accessible children and the inaccessible ones', async () => {
    const body = await ask(b, matrixPath`/_matrix/federation/v1/hierarchy/${space}`);
    expect(body['room']).toMatchObject({ room_id: space, name: 'Space', room_type: 'm.space' });
    expect((body['room']['children_state'] as Json[]).map((e) => e['state_key']).sort()).toEqual(
      [open, secret, '!unknown:elsewhere.test'].sort(),
    );
    expect((body['children'] as Json[]).map((room) => room['room_id'])).toEqual([open]);
    expect(body['inaccessible_children']).toEqual([secret]);

    const suggested = await ask(b, matrixPath`/_matrix/federation/v1/hierarchy/${space}`, {
      suggested_only: 'true',
    });
    expect((suggested['room']['children_state'] as Json[]).length).toBe(2);
    expect(suggested['inaccessible_children']).toEqual([]);

    // A room the asking server may not preview, or one this server does not know: 404.
    await expect(
      b.services.federation.client.request(
        'a.test',
        'GET',
        matrixPath`/_matrix/federation/v1/hierarchy/${secret}`,
        undefined,
        { retry: false },
      ),
    ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
    await expect(
      b.services.federation.client.request(
        'a.test',
        'GET',
        matrixPath`/_matrix/federation/v1/hierarchy/${'!unknown:elsewhere.test'}`,
        undefined,
        { retry: false },
      ),
    ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it("B's client endpoints ask A about the rooms B does not know", async () => {
    const clientB = federation.client('b.test');
    const bob = await clientB.registerUser('bobspace');
    const local = await createPublicRoom(clientB, bob, {
      name: 'B space',
      creation_content: { type: 'm.space' },
    });
    const put = await clientB.request(
      'PUT',
      `/_matrix/client/v3/rooms/${enc(local)}/state/m.space.child/${enc(space)}`,
      { token: bob.accessToken, body: { via: ['a.test'] } },
    );
    expect(put.status).toBe(200);
    const call = async (path: string, status = 200) => {
      const answer = await clientB.request<Json>('GET', path, { token: bob.accessToken });
      expect(answer.status, JSON.stringify(answer.body)).toBe(status);
      await clientSpec.expectValid('GET', path, status, answer.body);
      return answer.body;
    };
    const tree = await call(`/_matrix/client/v1/rooms/${enc(local)}/hierarchy`);
    // The secret room is inaccessible to b.test, the unknown one unknown to a.test as well.
    expect((tree['rooms'] as Json[]).map((room) => room['room_id'])).toEqual([local, space, open]);
    expect((tree['rooms'] as Json[])[1]).toMatchObject({ name: 'Space', room_type: 'm.space' });
    expect((tree['rooms'] as Json[])[2]).toMatchObject({ name: 'Open', join_rule: 'public' });

    const summary = await call(`/_matrix/client/v1/room_summary/${enc(open)}?via=a.test`);
    expect(summary).toMatchObject({ room_id: open, name: 'Open', membership: 'leave' });
    await call(`/_matrix/client/v1/room_summary/${enc(secret)}?via=a.test`, 404);
    await call(`/_matrix/client/v1/room_summary/${enc(open)}`, 404);
    // Without an access token no other server is asked: a room unknown here is not found.
    const anonymous = await clientB.request<Json>(
      'GET',
      `/_matrix/client/v1/room_summary/${enc(open)}?via=a.test`,
    );
    expect(anonymous.status).toBe(404);
  });
});

describe('GET /_matrix/federation/v1/timestamp_to_event/{roomId}', () => {
  it('answers a server in the room in both directions', async () => {
    const stored = await Promise.all(messages.map((id) => a.services.rooms.getEvent(id)));
    const [m0, m1, m2] = stored;
    if (m0 === undefined || m1 === undefined || m2 === undefined) throw new Error('no events');
    const path = matrixPath`/_matrix/federation/v1/timestamp_to_event/${roomId}`;
    expect(await ask(b, path, { ts: String(m1.originServerTs), dir: 'f' })).toEqual({
      event_id: m1.eventId,
      origin_server_ts: m1.originServerTs,
    });
    expect((await ask(b, path, { ts: String(m1.originServerTs - 1), dir: 'b' }))['event_id']).toBe(
      m0.eventId,
    );
    expect(
      (await ask(b, path, { ts: String(m2.originServerTs + 60_000), dir: 'b' }))['event_id'],
    ).toBe(m2.eventId);
    await expect(
      b.services.federation.client.request('a.test', 'GET', path, undefined, {
        query: { ts: String(m2.originServerTs + 60_000), dir: 'f' },
        retry: false,
      }),
    ).rejects.toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('refuses a server with no member in the room', async () => {
    const c = federation.server('c.test');
    await expect(
      c.services.federation.client.request(
        'a.test',
        'GET',
        matrixPath`/_matrix/federation/v1/timestamp_to_event/${roomId}`,
        undefined,
        { query: { ts: '0', dir: 'f' }, retry: false },
      ),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
  });
});
