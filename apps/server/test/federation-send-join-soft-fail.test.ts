/**
 * The resident server's soft-failure check of a `send_join` (accept-membership.ts, spec
 * server-server-api "Checks performed on receipt of a PDU", step 6): a join signed from a
 * `make_join` template cites the auth events of that moment; when the room's current state has
 * changed since (join rule now `invite`, or the user banned), the join still passes against its
 * own auth events but must be refused against the current state. The check loads only the
 * current state entries the auth events selection names, so these cases pin down that those are
 * the right ones (`m.room.join_rules` and the joining user's `m.room.member`).
 */

import { computeEventId, signEvent } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  bob = await b.client.registerUser('bob');
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

/** Bob's join of `roomId`, built from A's `make_join` template and signed by B (not sent). */
async function signedJoin(roomId: string): Promise<{ pdu: Json; eventId: string }> {
  const template = await b.services.federation.client.request<Json>(
    'a.test',
    'GET',
    `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(bob.userId)}?ver=10&ver=11&ver=12`,
  );
  const version = template['room_version'] as string;
  const draft = { ...(template['event'] as Json), origin: 'b.test', origin_server_ts: Date.now() };
  const pdu = signEvent(draft, version, 'b.test', b.services.ctx.signingKey);
  return { pdu, eventId: computeEventId(pdu, version) };
}

async function sendJoin(roomId: string, join: { pdu: Json; eventId: string }): Promise<unknown> {
  return b.services.federation.client
    .request(
      'a.test',
      'PUT',
      `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(join.eventId)}`,
      join.pdu,
    )
    .catch((error: unknown) => error);
}

async function membership(roomId: string): Promise<string> {
  return (await a.services.rooms.membership(roomId, bob.userId))?.membership ?? 'none';
}

describe('send_join soft failure against the current state', () => {
  it('refuses a join signed while the room was public once its join rule is invite', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    const join = await signedJoin(roomId);
    await call(
      a,
      alice,
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.join_rules/`,
      {
        join_rule: 'invite',
      },
    );
    const refused = await sendJoin(roomId, join);
    expect(MatrixError.isInstance(refused) && refused.status).toBe(403);
    expect((refused as MatrixError).errcode).toBe('M_FORBIDDEN');
    expect(await membership(roomId)).toBe('none');
  });

  it('refuses a join signed before the user was banned, and accepts one in an unchanged room', async () => {
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    const join = await signedJoin(roomId);
    await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/ban`, {
      user_id: bob.userId,
    });
    const refused = await sendJoin(roomId, join);
    expect(MatrixError.isInstance(refused) && refused.status).toBe(403);
    expect(await membership(roomId)).toBe('ban');

    const open = await createRoom(a, alice, [], { preset: 'public_chat' });
    const answer = (await sendJoin(open, await signedJoin(open))) as Json;
    expect(answer['origin']).toBe('a.test');
    expect(await membership(open)).toBe('join');
  });
});
