/**
 * The federation room directory (api/federation/public-rooms.ts over services/rooms/directory.ts;
 * spec server-server-api "Public Room Directory", public_rooms.yaml): another server lists this
 * server's published rooms with `GET`/`POST /_matrix/federation/v1/publicRooms`, X-Matrix signed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { federationRequest, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { createRoom, type Json } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let lobby: string;
let garden: string;
let space: string;

/** A federation request from B to A; an error answer resolves to its status and errcode. */
const fromB = (method: 'GET' | 'POST', path: string, body?: unknown, authenticated?: boolean) =>
  federationRequest(b, 'a.test', method, path, body, authenticated);

const ids = (answer: { body: Json }): string[] =>
  (answer.body['chunk'] as Json[]).map((room) => room['room_id']);

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  const alice = await a.client.registerUser('alice');
  const public_ = { preset: 'public_chat', visibility: 'public' };
  lobby = await createRoom(a, alice, [], { ...public_, name: 'Lobby' });
  garden = await createRoom(a, alice, [], { ...public_, name: 'Garden', topic: 'flowers' });
  space = await createRoom(a, alice, [], {
    ...public_,
    name: 'Space',
    creation_content: { type: 'm.space' },
  });
  // Not published: never listed.
  await createRoom(a, alice, [], { preset: 'public_chat', name: 'Hidden lobby' });
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('GET/POST /_matrix/federation/v1/publicRooms', () => {
  it('lists the published rooms; limit 0 is no limit; since pages', async () => {
    const all = await fromB('GET', '/_matrix/federation/v1/publicRooms');
    expect(all.status).toBe(200);
    expect(ids(all).sort()).toEqual([garden, lobby, space].sort());
    expect(all.body['total_room_count_estimate']).toBe(3);
    const garden_ = (all.body['chunk'] as Json[]).find((room) => room['room_id'] === garden);
    expect(garden_).toMatchObject({ name: 'Garden', topic: 'flowers', join_rule: 'public' });
    expect(ids(await fromB('GET', '/_matrix/federation/v1/publicRooms?limit=0'))).toHaveLength(3);

    const first = await fromB('GET', '/_matrix/federation/v1/publicRooms?limit=2');
    expect(ids(first)).toHaveLength(2);
    const next = String(first.body['next_batch']);
    const second = await fromB(
      'GET',
      `/_matrix/federation/v1/publicRooms?limit=2&since=${encodeURIComponent(next)}`,
    );
    expect([...ids(first), ...ids(second)].sort()).toEqual([garden, lobby, space].sort());
    expect(second.body['next_batch']).toBeUndefined();
  });

  it('filters by generic_search_term and room_types (POST)', async () => {
    const url = '/_matrix/federation/v1/publicRooms';
    expect(ids(await fromB('POST', url, { filter: { generic_search_term: 'flow' } }))).toEqual([
      garden,
    ]);
    expect(ids(await fromB('POST', url, { filter: { room_types: ['m.space'] } }))).toEqual([space]);
    expect(ids(await fromB('POST', url, { filter: { room_types: [null] } })).sort()).toEqual(
      [garden, lobby].sort(),
    );
    expect(ids(await fromB('POST', url, { limit: 1, include_all_networks: true }))).toHaveLength(1);
  });

  it('has no rooms for a third-party network; refuses it with include_all_networks', async () => {
    const url = '/_matrix/federation/v1/publicRooms';
    const irc = await fromB('GET', `${url}?third_party_instance_id=irc-freenode`);
    expect(irc).toEqual({ status: 200, body: { chunk: [], total_room_count_estimate: 0 } });
    expect(
      await fromB('POST', url, { include_all_networks: true, third_party_instance_id: 'irc' }),
    ).toEqual({ status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    expect(await fromB('GET', `${url}?limit=-1`)).toEqual({
      status: 400,
      body: { errcode: 'M_INVALID_PARAM' },
    });
  });

  it('requires an X-Matrix signature', async () => {
    const unsigned = await fromB('GET', '/_matrix/federation/v1/publicRooms', undefined, false);
    expect(unsigned.status).toBe(401);
  });
});
