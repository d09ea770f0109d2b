/**
 * A malicious server PROCESS (malicious-server/main.ts: its own TLS listener, signing key and
 * key server) against two honest servers, a.test and b.test, sharing a room with it (spec
 * server-server-api "Checks performed on receipt of a PDU", "Soft failure", "Transactions",
 * "Request Authentication"). Every attack goes to both honest servers, and each is answered as
 * the spec says:
 * - a forged signature → dropped (check-signatures.ts);
 * - a wrong content hash → stored redacted (check-hashes.ts);
 * - an event breaking the auth rules → rejected (auth-against-auth-events.ts);
 * - an event citing a fake auth chain (served by the attacker) → both rejected (fetch-missing.ts);
 * - an unsigned request, one with a forged X-Matrix signature, or one whose body names another
 *   origin → 401 / 401 / 403;
 * - a replayed transaction ID with new content → the first answer, nothing new stored;
 * - a state reset: after mallory was promoted, then demoted and banned, events forked from
 *   before the demotion citing the old power levels (a name change, a kick, new power levels)
 *   → soft-failed (or rejected), and the resolved state stays the honest one.
 * Throughout, the hash of the honest servers' resolved state is unchanged and identical.
 */
import { createHash } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  eventually,
  joinedRoomAcross,
  startFederationWithPeer,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { type MaliciousServer, startMaliciousServer } from './malicious-server/process.ts';
import { forwardExtremities, type RoomTip, roomTip, tipAuthEvents } from './room-tip.ts';
import { call, type Json, sendText, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

let federation: TestFederation;
let mallory: MaliciousServer;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let bob: TestUser;
let roomId: string;
const honest = () => [a, b];

async function stateId(server: TestServer, type: string, key = ''): Promise<string | undefined> {
  const row = await server.services.ctx.db.queryOne<{ event_id: string }>(
    'SELECT event_id FROM room_current_state WHERE room_id = $1 AND type = $2 AND state_key = $3',
    [roomId, type, key],
  );
  return row?.event_id;
}

/** A hash of the room's resolved current state (sorted `type, state_key, event_id`). */
async function stateHash(server: TestServer): Promise<string> {
  const rows = await server.services.ctx.db.query<{
    type: string;
    state_key: string;
    event_id: string;
  }>('SELECT type, state_key, event_id FROM room_current_state WHERE room_id = $1', [roomId]);
  const entries = rows.map((r) => [r.type, r.state_key, r.event_id]).sort();
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

/** The honest servers' state hashes, after checking they agree. */
async function agreedStateHash(): Promise<string> {
  const [onA, onB] = await Promise.all(honest().map(stateHash));
  expect(onB).toBe(onA);
  return onA ?? '';
}

type Row = {
  pdu: string;
  rejected: number;
  soft_failed: number;
  stream_position: number | null;
};

async function row(server: TestServer, eventId: string): Promise<Row | undefined> {
  return server.services.ctx.db.queryOne<Row>(
    'SELECT pdu, rejected, soft_failed, stream_position FROM events WHERE event_id = $1',
    [eventId],
  );
}

/** Where the DAG stands on a.test: what mallory's next event cites. */
function facts(): Promise<RoomTip> {
  return roomTip(a, roomId, MALLORY);
}

/** An unsigned event of mallory on top of `at` (default: the DAG now). */
async function event(type: string, content: Json, stateKey?: string, at?: RoomTip): Promise<Json> {
  const f = at ?? (await facts());
  return {
    auth_events: tipAuthEvents(f),
    content,
    depth: f.depth + 1,
    origin_server_ts: Date.now(),
    prev_events: f.extremities,
    room_id: roomId,
    sender: MALLORY,
    type,
    ...(stateKey === undefined ? {} : { state_key: stateKey }),
  };
}

let txn = 0;
/** Sends `pdus` in one transaction to each honest server; the `/send` answers' PDU results. */
async function sendToBoth(pdus: Json[], txnId = `t${++txn}`): Promise<Json[]> {
  return Promise.all(
    ['a.test', 'b.test'].map(
      async (destination) => (await mallory.send(destination, txnId, pdus))['pdus'] as Json,
    ),
  );
}

beforeAll(async () => {
  ({ federation, peer: mallory } = await startFederationWithPeer(
    ['a.test', 'b.test'],
    'm.test',
    startMaliciousServer,
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
  const join = await mallory.sign(
    await event('m.room.member', { membership: 'join' }, MALLORY),
    ROOM_VERSION,
  );
  expect(await sendToBoth([join.pdu])).toEqual([{ [join.eventId]: {} }, { [join.eventId]: {} }]);
}, 90_000);

afterAll(async () => {
  await mallory?.stop();
  await federation?.close();
});

describe('a malicious server process against two honest servers', () => {
  let honestState: string;

  it('is a separate process with its own key, joined to the room on both servers', async () => {
    expect(mallory.pid).not.toBe(process.pid);
    for (const server of honest()) {
      expect(await server.services.rooms.members(roomId)).toContain(MALLORY);
    }
    honestState = await agreedStateHash();
  });

  it('forged signature: dropped, not stored', async () => {
    const forged = await mallory.forge(
      await event('m.room.message', { msgtype: 'm.text', body: 'forged' }),
      ROOM_VERSION,
    );
    for (const results of await sendToBoth([forged.pdu])) {
      expect(String(results[forged.eventId]?.['error'])).toMatch(/signature/);
    }
    for (const server of honest()) expect(await row(server, forged.eventId)).toBeUndefined();
  });

  it('wrong content hash: stored redacted', async () => {
    const { pdu, eventId } = await mallory.sign(
      await event('m.room.message', { msgtype: 'm.text', body: 'original' }),
      ROOM_VERSION,
    );
    // The content is covered by the hash, not the signature (redaction strips it first).
    const tampered = { ...pdu, content: { msgtype: 'm.text', body: 'tampered' } };
    expect(await sendToBoth([tampered])).toEqual([{ [eventId]: {} }, { [eventId]: {} }]);
    for (const server of honest()) {
      const stored = await row(server, eventId);
      expect(JSON.parse(stored?.pdu ?? 'null')['content']).toEqual({});
      expect(stored?.stream_position).not.toBeNull();
    }
  });

  it('auth-rule break (power levels without the power): rejected, state unchanged', async () => {
    const { pdu, eventId } = await mallory.sign(
      await event('m.room.power_levels', { users: { [MALLORY]: 100 } }, ''),
      ROOM_VERSION,
    );
    for (const results of await sendToBoth([pdu])) {
      expect(String(results[eventId]?.['error'])).toMatch(/power/);
    }
    for (const server of honest()) expect((await row(server, eventId))?.rejected).toBe(1);
    expect(await agreedStateHash()).toBe(honestState);
  });

  it('fake auth chain (served by the attacker): the fake and what cites it rejected', async () => {
    const f = await facts();
    const fake = await mallory.sign(
      await event('m.room.power_levels', { users: { [MALLORY]: 100 } }, '', f),
      ROOM_VERSION,
    );
    await mallory.serve(fake.eventId, fake.pdu);
    const named = await event('m.room.name', { name: 'taken over' }, '', f);
    named['auth_events'] = [f.create, fake.eventId, f.member ?? ''];
    const { pdu, eventId } = await mallory.sign(named, ROOM_VERSION);
    for (const results of await sendToBoth([pdu])) {
      expect(results[eventId]?.['error']).toBeDefined();
    }
    for (const server of honest()) {
      expect((await row(server, fake.eventId))?.rejected).toBe(1);
      expect((await row(server, eventId))?.rejected).toBe(1);
      expect(await stateId(server, 'm.room.name')).toBeUndefined();
    }
  });

  it('unsigned or forged requests and a body naming another origin are refused', async () => {
    const { pdu, eventId } = await mallory.sign(
      await event('m.room.message', { msgtype: 'm.text', body: 'unsigned' }),
      ROOM_VERSION,
    );
    const path = '/_matrix/federation/v1/send/unsigned-1';
    const body = { origin: 'm.test', origin_server_ts: Date.now(), pdus: [pdu] };
    for (const destination of ['a.test', 'b.test']) {
      const unsigned = await mallory.unsigned(destination, 'PUT', path, body);
      expect(unsigned).toMatchObject({ status: 401, body: { errcode: 'M_UNAUTHORIZED' } });
      const forged = await mallory.forgedRequest(destination, 'PUT', path, body);
      expect(forged).toMatchObject({ status: 401, body: { errcode: 'M_UNAUTHORIZED' } });
      const impersonating = await mallory.request(destination, 'PUT', path, {
        ...body,
        origin: 'a.test',
      });
      expect(impersonating).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });
    }
    for (const server of honest()) expect(await row(server, eventId)).toBeUndefined();
  });

  it('one transaction mixing good and bad PDUs: a verdict each, the good ones kept', async () => {
    // The receiver stores a transaction's PDUs in one database transaction: a PDU that fails
    // must not take the others with it, and a PDU must see the one before it (m2 cites m1).
    const f = await facts();
    const m1 = await mallory.sign(
      await event('m.room.message', { msgtype: 'm.text', body: 'batch 1' }, undefined, f),
      ROOM_VERSION,
    );
    const forged = await mallory.forge(
      await event('m.room.message', { msgtype: 'm.text', body: 'batch forged' }, undefined, f),
      ROOM_VERSION,
    );
    const power = await mallory.sign(
      await event('m.room.power_levels', { users: { [MALLORY]: 100 } }, '', f),
      ROOM_VERSION,
    );
    const m2 = await mallory.sign(
      {
        ...(await event('m.room.message', { msgtype: 'm.text', body: 'batch 2' }, undefined, f)),
        prev_events: [m1.eventId],
        depth: f.depth + 2,
      },
      ROOM_VERSION,
    );
    for (const results of await sendToBoth([m1.pdu, forged.pdu, power.pdu, m2.pdu])) {
      expect(results[m1.eventId]).toEqual({});
      expect(String(results[forged.eventId]?.['error'])).toMatch(/signature/);
      expect(String(results[power.eventId]?.['error'])).toMatch(/power/);
      expect(results[m2.eventId]).toEqual({});
    }
    for (const server of honest()) {
      expect(await row(server, forged.eventId)).toBeUndefined();
      expect((await row(server, power.eventId))?.rejected).toBe(1);
      for (const good of [m1, m2]) {
        expect((await row(server, good.eventId))?.stream_position).not.toBeNull();
      }
      expect(await forwardExtremities(server, roomId)).toEqual([m2.eventId]);
    }
    expect(await agreedStateHash()).toBe(honestState);
  });

  it('replayed transaction: the first answer again, its new content ignored', async () => {
    const first = await mallory.sign(
      await event('m.room.message', { msgtype: 'm.text', body: 'once' }),
      ROOM_VERSION,
    );
    const answers = await sendToBoth([first.pdu], 'replay');
    const other = await mallory.sign(
      await event('m.room.message', { msgtype: 'm.text', body: 'sneaked in' }),
      ROOM_VERSION,
    );
    expect(await sendToBoth([other.pdu], 'replay')).toEqual(answers);
    for (const server of honest()) expect(await row(server, other.eventId)).toBeUndefined();
    expect(await agreedStateHash()).toBe(honestState);
  });

  it('state reset: a fork citing old power levels after demotion and ban is soft-failed', async () => {
    const base = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
    /** Sets power levels on a.test (alice) and waits until b.test has them too. */
    const setPowerLevels = async (users: Json): Promise<string> => {
      const current = await call(a, alice, 'GET', `${base}/state/m.room.power_levels/`);
      const { event_id: id } = await call(a, alice, 'PUT', `${base}/state/m.room.power_levels/`, {
        ...current,
        users,
      });
      await eventually(
        async () => (await stateId(b, 'm.room.power_levels')) === id,
        'the power levels on b.test',
      );
      return id;
    };
    // Mallory is made a moderator (50: may kick, name the room) ...
    await setPowerLevels({ [alice.userId]: 100, [MALLORY]: 50 });
    const forkPoint = await facts();
    // ... then demoted and banned.
    const demoted = await setPowerLevels({ [alice.userId]: 100 });
    await call(a, alice, 'POST', `${base}/ban`, { user_id: MALLORY, reason: 'attacker' });
    const ban = await stateId(a, 'm.room.member', MALLORY);
    await eventually(
      async () => (await stateId(b, 'm.room.member', MALLORY)) === ban,
      'the ban on b.test',
    );
    const honestNow = await agreedStateHash();

    // A fork from before the demotion, citing the old power levels: each event is allowed by
    // its auth events and by the state before it, refused by the current state.
    const fork = [
      await event(
        'm.room.message',
        { msgtype: 'm.text', body: 'from the past' },
        undefined,
        forkPoint,
      ),
      await event('m.room.name', { name: 'reset by mallory' }, '', forkPoint),
      await event('m.room.member', { membership: 'leave' }, bob.userId, forkPoint),
      await event(
        'm.room.power_levels',
        {
          ...((await a.services.rooms.getEvent(forkPoint.powerLevels))?.pdu['content'] as Json),
          users: { [alice.userId]: 100, [MALLORY]: 50 },
        },
        '',
        forkPoint,
      ),
    ];
    const signed = await Promise.all(fork.map((e) => mallory.sign(e, ROOM_VERSION)));
    await sendToBoth(signed.map((e) => e.pdu));
    for (const server of honest()) {
      for (const { eventId } of signed) {
        const stored = await row(server, eventId);
        // Stored for the DAG, never in the timeline nor the state: soft-failed (the power
        // levels event, which mallory at 50 may not send, is rejected outright).
        expect(stored?.stream_position ?? null).toBeNull();
        expect(Number(stored?.soft_failed) + Number(stored?.rejected)).toBe(1);
      }
      expect(await row(server, signed[0]?.eventId ?? '')).toMatchObject({ soft_failed: 1 });
      expect(await stateId(server, 'm.room.name')).toBeUndefined();
      expect((await server.services.rooms.membership(roomId, bob.userId))?.membership).toBe('join');
      expect(await stateId(server, 'm.room.power_levels')).toBe(demoted);
      expect(await stateId(server, 'm.room.member', MALLORY)).toBe(ban);
    }
    expect(await agreedStateHash()).toBe(honestNow);

    // The honest servers keep going on the honest DAG and still agree.
    await sendText(b, bob, roomId, 'after the attack');
    await call(a, alice, 'PUT', `${base}/state/m.room.topic/`, { topic: 'still ours' });
    const topic = await stateId(a, 'm.room.topic');
    await eventually(async () => (await stateId(b, 'm.room.topic')) === topic, 'the topic on b');
    expect(await agreedStateHash()).not.toBe(honestNow);
    for (const server of honest()) {
      expect(await stateId(server, 'm.room.power_levels')).toBe(demoted);
      expect(await stateId(server, 'm.room.member', MALLORY)).toBe(ban);
      expect(await stateId(server, 'm.room.name')).toBeUndefined();
    }
  }, 60_000);
});
