/**
 * Server ACLs (services/federation/acl.ts; spec server-server-api "Server Access Control Lists
 * (ACLs)" and the `m.room.server_acl` schema). The matching rules on their own, then two real
 * servers over TLS and a hand-written peer (m.test) in one room: once the room's ACL denies
 * m.test, every protected endpoint answers it 403 M_FORBIDDEN, its PDUs in `/send` are dropped
 * and its typing EDUs ignored — on both servers; and a real server (b.test) denied later has
 * its messages refused by a.test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseServerAcl, serverAllowed } from '../src/services/federation/acl.ts';
import {
  eventually,
  joinedRoomAcross,
  startFederationWithPeer,
  type TestFederation,
} from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer } from './harness.ts';
import { roomTip, tipAuthEvents } from './room-tip.ts';
import { call, type Json, sendText, type TestUser } from './sync-helpers.ts';

describe('ACL matching (acl.ts)', () => {
  const allowed = (content: unknown, server: string) =>
    serverAllowed(parseServerAcl(content), server);

  it('applies deny before allow, with case-insensitive globs and no port', () => {
    const acl = { allow: ['*'], deny: ['evil.test', '*.evil.test', 'b?d.test'] };
    expect(allowed(acl, 'good.test')).toBe(true);
    expect(allowed(acl, 'EVIL.test:8448')).toBe(false);
    expect(allowed(acl, 'sub.evil.test')).toBe(false);
    expect(allowed(acl, 'bad.test')).toBe(false);
    expect(allowed(acl, 'baad.test')).toBe(true);
    expect(allowed(acl, 'notevil.test')).toBe(true);
  });

  it('denies what no allow entry matches; a missing allow list denies everyone', () => {
    expect(allowed({ allow: ['*.example.org'] }, 'matrix.example.org')).toBe(true);
    expect(allowed({ allow: ['*.example.org'] }, 'example.org')).toBe(false);
    expect(allowed({ deny: [] }, 'a.test')).toBe(false);
    expect(allowed({ allow: 'not a list' }, 'a.test')).toBe(false);
  });

  it('denies IP literals only when allow_ip_literals is false', () => {
    expect(allowed({ allow: ['*'] }, '10.0.0.1:8448')).toBe(true);
    expect(allowed({ allow: ['*'], allow_ip_literals: false }, '10.0.0.1:8448')).toBe(false);
    expect(allowed({ allow: ['*'], allow_ip_literals: false }, '[::1]:8448')).toBe(false);
    expect(allowed({ allow: ['*'], allow_ip_literals: 'no' }, '[::1]')).toBe(true);
  });

  it('treats regular expression characters in a pattern literally', () => {
    expect(allowed({ allow: ['a.test'] }, 'aXtest')).toBe(false);
    expect(allowed({ allow: ['(a|b).test'] }, 'a.test')).toBe(false);
  });
});

async function currentStateId(server: TestServer, roomId: string, type: string, key = '') {
  const row = await server.services.ctx.db.queryOne<{ event_id: string }>(
    'SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = $3',
    [roomId, type, key],
  );
  return row?.event_id;
}

async function hasEvent(server: TestServer, eventId: string): Promise<boolean> {
  return (await server.services.rooms.getEvent(eventId)) !== undefined;
}

describe('ACL enforcement on a room spanning a.test, b.test and the peer m.test', () => {
  let federation: TestFederation;
  let peer: TestPeer;
  let a: TestServer;
  let b: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  let mallorysJoin: string;
  const mallory = '@mallory:m.test';
  const enc = encodeURIComponent;

  /** A PDU of m.test in the room, on top of a.test's current extremities. */
  async function peerEvent(type: string, content: Json, stateKey?: string) {
    const tip = await roomTip(a, roomId, mallory);
    return peer.sign(
      {
        auth_events: tipAuthEvents(tip),
        content,
        depth: 1_000,
        origin_server_ts: Date.now(),
        prev_events: tip.extremities,
        room_id: roomId,
        sender: mallory,
        ...(stateKey === undefined ? {} : { state_key: stateKey }),
        type,
      },
      '11',
    );
  }

  const typingEdu = (typing: boolean) => ({
    edu_type: 'm.typing',
    content: { room_id: roomId, user_id: mallory, typing },
  });

  beforeAll(async () => {
    ({ federation, peer } = await startFederationWithPeer(
      ['a.test', 'b.test'],
      'm.test',
      startTestPeer,
    ));
    a = federation.server('a.test');
    b = federation.server('b.test');
    ({
      roomId,
      users: [alice, bob],
    } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
    ]));
    const join = await peerEvent('m.room.member', { membership: 'join' }, mallory);
    expect(await peer.send('a.test', 'join', [join.pdu])).toEqual({ pdus: { [join.eventId]: {} } });
    mallorysJoin = join.eventId;
  }, 60_000);

  afterAll(async () => {
    await peer?.down();
    await federation?.close();
  });

  it('serves m.test and takes its typing before any ACL (the checks below can fail)', async () => {
    const backfill = await peer.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/backfill/${enc(roomId)}?v=${enc(mallorysJoin)}&limit=5`,
    );
    expect(backfill.status).toBe(200);
    await peer.send('a.test', 'typing-before', [], [typingEdu(true)]);
    expect(a.services.typing.typingIn(roomId)).toContain(mallory);
    await peer.send('a.test', 'typing-stop', [], [typingEdu(false)]);
    expect(a.services.typing.typingIn(roomId)).not.toContain(mallory);
  });

  it('once the ACL denies m.test, every protected endpoint answers it 403 M_FORBIDDEN', async () => {
    const { event_id: aclId } = await call(
      a,
      alice,
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.server_acl/`,
      { allow: ['*'], deny: ['m.test'], allow_ip_literals: false },
    );
    await eventually(
      async () => (await currentStateId(b, roomId, 'm.room.server_acl')) === aclId,
      'the ACL on b.test',
    );
    const leave = await peerEvent('m.room.member', { membership: 'leave' }, mallory);
    const latest = (await currentStateId(a, roomId, 'm.room.server_acl')) ?? '';
    const requests: Array<['GET' | 'PUT' | 'POST', string, unknown?]> = [
      ['GET', `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc('@eve:m.test')}?ver=11`],
      ['GET', `/_matrix/federation/v1/make_leave/${enc(roomId)}/${enc(mallory)}`],
      ['PUT', `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(leave.eventId)}`, leave.pdu],
      ['PUT', `/_matrix/federation/v2/send_leave/${enc(roomId)}/${enc(leave.eventId)}`, leave.pdu],
      [
        'PUT',
        `/_matrix/federation/v2/invite/${enc(roomId)}/${enc(leave.eventId)}`,
        { event: leave.pdu, room_version: '11', invite_room_state: [] },
      ],
      ['GET', `/_matrix/federation/v1/backfill/${enc(roomId)}?v=${enc(latest)}&limit=5`],
      [
        'POST',
        `/_matrix/federation/v1/get_missing_events/${enc(roomId)}`,
        { earliest_events: [], latest_events: [latest], limit: 5 },
      ],
      ['GET', `/_matrix/federation/v1/state/${enc(roomId)}?event_id=${enc(latest)}`],
      ['GET', `/_matrix/federation/v1/state_ids/${enc(roomId)}?event_id=${enc(latest)}`],
      ['GET', `/_matrix/federation/v1/event/${enc(latest)}`],
    ];
    for (const destination of ['a.test', 'b.test']) {
      for (const [method, path, body] of requests) {
        const answer = await peer.request(destination, method, path, body);
        expect({ destination, path, ...answer }).toMatchObject({
          destination,
          path,
          status: 403,
          body: { errcode: 'M_FORBIDDEN' },
        });
      }
    }
    // The room still serves the allowed server.
    const ok = await b.services.federation.client.request(
      'a.test',
      'GET',
      `/_matrix/federation/v1/state_ids/${enc(roomId)}?event_id=${enc(latest)}`,
    );
    expect(ok['pdu_ids']).toContain(await currentStateId(a, roomId, 'm.room.create'));
    expect(await hasEvent(a, leave.eventId)).toBe(false);
  }, 60_000);

  it('drops m.test PDUs in /send and ignores its typing', async () => {
    const message = await peerEvent('m.room.message', { msgtype: 'm.text', body: 'denied' });
    const answer = await peer.send('a.test', 'after-acl', [message.pdu], [typingEdu(true)]);
    expect(String((answer['pdus'] as Json)[message.eventId]['error'])).toContain('M_FORBIDDEN');
    expect(await hasEvent(a, message.eventId)).toBe(false);
    expect(a.services.typing.typingIn(roomId)).not.toContain(mallory);
    // A resend once the ACL changes is judged afresh: the drop stored nothing.
    expect((await peer.send('a.test', 'after-acl-2', [message.pdu]))['pdus']).toMatchObject({
      [message.eventId]: { error: expect.stringContaining('M_FORBIDDEN') },
    });
  });

  it('a real server the ACL denies later has its messages refused', async () => {
    const { event_id: aclId } = await call(
      a,
      alice,
      'PUT',
      `/_matrix/client/v3/rooms/${enc(roomId)}/state/m.room.server_acl/`,
      { allow: ['*.test'], deny: ['m.test', 'B.*'] },
    );
    await eventually(
      async () => (await currentStateId(b, roomId, 'm.room.server_acl')) === aclId,
      'the new ACL on b.test',
    );
    const denied = await sendText(b, bob, roomId, 'from a denied server');
    await eventually(async () => {
      const rows = await a.services.ctx.db.query<{ response: string }>(
        "SELECT response FROM federation_inbound_txns WHERE origin = 'b.test'",
      );
      return rows.some((row) => denied in (JSON.parse(row.response) as { pdus: Json }).pdus);
    }, "a.test's verdict on the message");
    expect(await hasEvent(a, denied)).toBe(false);
    const allowedMessage = await sendText(a, alice, roomId, 'a.test is still allowed');
    expect(await hasEvent(a, allowedMessage)).toBe(true);
  }, 60_000);
});
