/**
 * Knocking over federation (server-server-api "Knocking upon a room"). The resident half: a
 * peer server asks `make_knock` for a template, signs it and hands it back through `send_knock`,
 * gets the room's stripped state, and the knock is in the room on A; rooms that do not allow
 * knocking, and knocking servers that do not name the room's version, are refused. The knocking
 * half: a user of B knocks on A's room through `POST /knock`, sees it in `rooms.knock`, and joins
 * once invited; a 403 from the first resident server ends the knock there, as it ends a join.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';

import { matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createTestCa,
  issueCert,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer } from './harness.ts';
import { freePort } from './spawn.ts';
import { call, type Json, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const eve = '@eve:m.test';

let federation: TestFederation;
let peer: TestPeer;
/** A second resident candidate (`n.test`) that records what it is asked and knows no room. */
let bystander: Server;
const bystanderAsked: string[] = [];
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;

async function roomWithJoinRule(joinRule: string): Promise<string> {
  return (
    await call(a, alice, 'POST', `${V3}/createRoom`, {
      preset: 'private_chat',
      room_version: '11',
      initial_state: [
        { type: 'm.room.join_rules', state_key: '', content: { join_rule: joinRule } },
      ],
    })
  )['room_id'];
}

beforeAll(async () => {
  const ca = createTestCa();
  const peerPort = await freePort();
  const bystanderPort = await freePort();
  federation = await startFederation(['a.test', 'b.test'], {
    ca,
    extraHosts: { 'm.test': `127.0.0.1:${peerPort}`, 'n.test': `127.0.0.1:${bystanderPort}` },
  });
  const bystanderCert = issueCert(ca, 'n.test');
  bystander = createHttpsServer(
    { cert: bystanderCert.cert, key: bystanderCert.key },
    (req, res) => {
      bystanderAsked.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errcode: 'M_NOT_FOUND', error: 'no such room here' }));
    },
  );
  await new Promise<void>((resolve) => bystander.listen(bystanderPort, '127.0.0.1', resolve));
  peer = await startTestPeer('m.test', peerPort, ca, issueCert(ca, 'm.test'), federation.hosts);
  a = federation.server('a.test');
  alice = await a.client.registerUser('alice');
  b = federation.server('b.test');
  bob = await b.client.registerUser('bob');
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => (bystander ? bystander.close(resolve) : resolve(undefined)));
  await peer?.down();
  await federation?.close();
});

describe('make_knock and send_knock', () => {
  it('let a user of another server knock, answering the stripped state', async () => {
    const roomId = await roomWithJoinRule('knock');
    const template = await peer.request(
      'a.test',
      'GET',
      `${matrixPath`/_matrix/federation/v1/make_knock/${roomId}/${eve}`}?ver=10&ver=11`,
    );
    expect(template.status, JSON.stringify(template.body)).toBe(200);
    expect(template.body['room_version']).toBe('11');
    const event = template.body['event'] as Json;
    expect(event).toMatchObject({ type: 'm.room.member', state_key: eve, sender: eve });
    expect(event['content']).toEqual({ membership: 'knock' });

    const signed = peer.sign({ ...event, origin: 'm.test' }, '11');
    const answer = await peer.request(
      'a.test',
      'PUT',
      matrixPath`/_matrix/federation/v1/send_knock/${roomId}/${signed.eventId}`,
      signed.pdu,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body['knock_room_state']).toContainEqual(
      expect.objectContaining({ type: 'm.room.join_rules', content: { join_rule: 'knock' } }),
    );
    const member = await call(
      a,
      alice,
      'GET',
      `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(eve)}`,
    );
    expect(member['membership']).toBe('knock');
  });

  it('refuses rooms without knocking and servers that do not support the room version', async () => {
    const closed = await roomWithJoinRule('invite');
    const refused = await peer.request(
      'a.test',
      'GET',
      `${matrixPath`/_matrix/federation/v1/make_knock/${closed}/${eve}`}?ver=11`,
    );
    expect(refused.status).toBe(403);
    expect(refused.body['errcode']).toBe('M_FORBIDDEN');
    const open = await roomWithJoinRule('knock');
    const version = await peer.request(
      'a.test',
      'GET',
      `${matrixPath`/_matrix/federation/v1/make_knock/${open}/${eve}`}?ver=6`,
    );
    expect(version.status).toBe(400);
    expect(version.body['errcode']).toBe('M_INCOMPATIBLE_ROOM_VERSION');
  });
});

describe('knocking from another server', () => {
  it('knocks through the resident server, shows knock_state, and joins after an invite', async () => {
    const roomId = await roomWithJoinRule('knock');
    const knocked = await call(
      b,
      bob,
      'POST',
      `${V3}/knock/${encodeURIComponent(roomId)}?via=a.test`,
      { reason: 'from afar' },
    );
    expect(knocked).toEqual({ room_id: roomId });
    const bobSync = await call(b, bob, 'GET', `${V3}/sync`);
    const knockState = bobSync['rooms']['knock'][roomId]['knock_state']['events'] as Json[];
    expect(knockState).toContainEqual(
      expect.objectContaining({ type: 'm.room.join_rules', content: { join_rule: 'knock' } }),
    );
    const onA = await call(
      a,
      alice,
      'GET',
      `${V3}/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(bob.userId)}`,
    );
    expect(onA).toMatchObject({ membership: 'knock', reason: 'from afar' });

    await call(a, alice, 'POST', `${V3}/rooms/${encodeURIComponent(roomId)}/invite`, {
      user_id: bob.userId,
    });
    await call(b, bob, 'POST', `${V3}/join/${encodeURIComponent(roomId)}?via=a.test`, {});
    const members = await call(
      a,
      alice,
      'GET',
      `${V3}/rooms/${encodeURIComponent(roomId)}/joined_members`,
    );
    expect(Object.keys(members['joined']).sort()).toEqual([alice.userId, bob.userId].sort());
  });

  it('withdraws a knock by leaving, through the server it knocked through', async () => {
    const roomId = await roomWithJoinRule('knock');
    const enc = encodeURIComponent;
    await call(b, bob, 'POST', `${V3}/knock/${enc(roomId)}?via=a.test`, {});
    await call(b, bob, 'POST', `${V3}/rooms/${enc(roomId)}/leave`, {});
    const onA = await call(
      a,
      alice,
      'GET',
      `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`,
    );
    expect(onA['membership']).toBe('leave');
    const bobSync = await call(b, bob, 'GET', `${V3}/sync`);
    expect(bobSync['rooms']?.['knock']?.[roomId]).toBeUndefined();
  });

  it('stops at a 403 from the first server, as a join does: the room refused, not the server', async () => {
    // A's room does not allow knocking: A answers make_knock with 403 M_FORBIDDEN.
    const roomId = await roomWithJoinRule('invite');
    const enc = encodeURIComponent;
    const refused = await b.client.request(
      'POST',
      `${V3}/knock/${enc(roomId)}?via=a.test&via=n.test`,
      {
        body: {},
        token: bob.accessToken,
      },
    );
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body['errcode']).toBe('M_FORBIDDEN');
    expect(bystanderAsked).toEqual([]);
  });
});
