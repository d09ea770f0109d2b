/**
 * The verdicts inbound `/send` stores (event-handler/handle-pdu.ts, fetch-missing.ts,
 * persist-remote.ts) against a hand-written peer `m.test` (federation-peer.ts) over real TLS,
 * on the storage `storage` names (SQLite, or PostgreSQL in the -postgres file):
 * - an auth event the origin cannot serve leaves the PDU unjudged — not stored as rejected —
 *   and the same PDU is accepted once the auth event can be had (spec
 *   https://spec.matrix.org/v1.19/server-server-api/#rejection is for failing the auth rules);
 * - a `get_missing_events` answer holds only events of the room asked for, at most `limit` of
 *   them (https://spec.matrix.org/v1.19/server-server-api/#retrieving-events-with-missing-prev_events):
 *   an event of another room — one whose ACL denies the origin — is not stored, nor is one
 *   beyond the limit;
 * - an event first stored as an outlier (a fetched auth event) that then arrives in `/send` and
 *   is rejected at step 5 or soft-failed takes that verdict (rejected / soft_failed, a state
 *   group, no longer an outlier): it no longer passes as an auth event, and a resend is answered
 *   from the stored verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MISSING_EVENTS_LIMIT } from '../src/services/federation/event-handler/fetch-missing.ts';
import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer, TestServerOptions } from './harness.ts';
import { type RoomTip, roomTip, tipAuthEvents } from './room-tip.ts';
import { call, createRoom, type Json, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

type Row = {
  rejected: number;
  soft_failed: number;
  outlier: number;
  state_group: number | null;
  stream_position: number | null;
};

export function receiveVerdictsSuite(storage: () => TestServerOptions = () => ({})): void {
  let federation: TestFederation;
  let peer: TestPeer;
  let a: TestServer;
  let alice: TestUser;
  /** The room the PDUs are sent to. */
  let roomId: string;
  /** Another room mallory is in, whose ACL denies m.test. */
  let deniedRoom: string;
  let txn = 0;

  const tip = (room = roomId): Promise<RoomTip> => roomTip(a, room, MALLORY);

  function row(eventId: string): Promise<Row | undefined> {
    return a.services.ctx.db.queryOne<Row>(
      `SELECT rejected, soft_failed, outlier, state_group, stream_position
         FROM events WHERE event_id = $1`,
      [eventId],
    );
  }

  /** A signed event of mallory on top of `at` (its extremities and depth unless given). */
  function event(
    at: RoomTip,
    room: string,
    type: string,
    content: Json,
    options: { stateKey?: string; authEvents?: string[]; prev?: string[]; depth?: number } = {},
  ): { pdu: Record<string, unknown>; eventId: string } {
    return peer.sign(
      {
        auth_events: options.authEvents ?? tipAuthEvents(at),
        content,
        depth: options.depth ?? at.depth + 1,
        origin_server_ts: Date.now(),
        prev_events: options.prev ?? at.extremities,
        room_id: room,
        sender: MALLORY,
        type,
        ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }),
      },
      ROOM_VERSION,
    );
  }

  /** Mallory's member event (a join, or a displayname change once joined). */
  function member(at: RoomTip, room: string, displayname: string, prev?: string[]) {
    return event(
      at,
      room,
      'm.room.member',
      { membership: 'join', displayname },
      {
        stateKey: MALLORY,
        authEvents: [at.create, at.powerLevels, at.joinRules, ...(at.member ? [at.member] : [])],
        ...(prev === undefined ? {} : { prev, depth: 2 }),
      },
    );
  }

  function message(at: RoomTip, room: string, body: string, authEvents?: string[]) {
    return event(
      at,
      room,
      'm.room.message',
      { msgtype: 'm.text', body },
      authEvents === undefined ? {} : { authEvents },
    );
  }

  /** Sends `pdus` in a new transaction; the `/send` answer's results by event ID. */
  async function send(pdus: readonly Record<string, unknown>[]): Promise<Json> {
    return (await peer.send('a.test', `v${++txn}`, pdus))['pdus'] as Json;
  }

  async function joinMallory(room: string): Promise<void> {
    const join = member(await tip(room), room, 'mallory');
    expect(await send([join.pdu])).toEqual({ [join.eventId]: {} });
  }

  beforeAll(async () => {
    ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer, {
      ...(storage().file === undefined ? {} : { file: storage().file }),
    }));
    a = federation.server('a.test');
    alice = await a.client.registerUser('alice');
    roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
    await joinMallory(roomId);
    deniedRoom = await createRoom(a, alice, [], { preset: 'public_chat' });
    await joinMallory(deniedRoom);
    await call(
      a,
      alice,
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(deniedRoom)}/state/m.room.server_acl/`,
      { allow: ['*'], deny: ['m.test'], allow_ip_literals: false },
    );
  }, 90_000);

  afterAll(async () => {
    await federation?.close();
    await peer?.down();
  });

  describe('an auth event the origin cannot serve (fetch-missing.ts)', () => {
    it('leaves the PDU unjudged, and accepts it once the auth event can be fetched', async () => {
      const at = await tip();
      const rename = member(at, roomId, 'not served yet');
      const cites = message(at, roomId, 'cites an unserved auth event', [
        at.create,
        at.powerLevels,
        rename.eventId,
      ]);
      const first = await send([cites.pdu]);
      expect(first[cites.eventId]?.['error']).toEqual(expect.any(String));
      // Not rejected: nothing is stored, so nothing answers a resend with "rejected".
      expect(await row(cites.eventId)).toBeUndefined();
      expect(await row(rename.eventId)).toBeUndefined();

      peer.served.set(rename.eventId, rename.pdu);
      expect(await send([cites.pdu])).toEqual({ [cites.eventId]: {} });
      const stored = await row(cites.eventId);
      expect(Number(stored?.rejected)).toBe(0);
      expect(stored?.stream_position).not.toBeNull();
    });
  });

  describe('get_missing_events answers (handle-pdu.ts #fillGap)', () => {
    it('drops an event of another room from the answer', async () => {
      const at = await tip();
      const foreign = message(await tip(deniedRoom), deniedRoom, 'smuggled into the denied room');
      // Sent directly, the room's ACL refuses it.
      expect((await send([foreign.pdu]))[foreign.eventId]?.['error']).toMatch(/M_FORBIDDEN/);
      const gap = message(at, roomId, 'the missing one');
      const next = event(
        at,
        roomId,
        'm.room.message',
        { msgtype: 'm.text', body: 'after the gap' },
        { prev: [gap.eventId], depth: at.depth + 2 },
      );
      peer.missing.splice(0, peer.missing.length, foreign.pdu, gap.pdu);
      try {
        expect(await send([next.pdu])).toEqual({ [next.eventId]: {} });
      } finally {
        peer.missing.splice(0);
      }
      expect(peer.missingRequests.at(-1)?.['latest_events']).toEqual([next.eventId]);
      expect(await row(foreign.eventId)).toBeUndefined();
      expect((await row(gap.eventId))?.stream_position).not.toBeNull();
      expect((await row(next.eventId))?.stream_position).not.toBeNull();
    });

    it('processes no more events than the limit it asked for', async () => {
      const at = await tip();
      const chain: Array<{ pdu: Record<string, unknown>; eventId: string }> = [];
      for (let i = 0; i <= MISSING_EVENTS_LIMIT; i += 1) {
        chain.push(
          event(
            at,
            roomId,
            'm.room.message',
            { msgtype: 'm.text', body: `chain ${i}` },
            {
              prev: i === 0 ? at.extremities : [chain[i - 1]?.eventId ?? ''],
              depth: at.depth + 1 + i,
            },
          ),
        );
      }
      const last = chain.at(-1) as { eventId: string };
      const next = event(
        at,
        roomId,
        'm.room.message',
        { msgtype: 'm.text', body: 'after the long gap' },
        { prev: [last.eventId], depth: at.depth + 2 + MISSING_EVENTS_LIMIT },
      );
      // One more than asked for, oldest first.
      peer.missing.splice(0, peer.missing.length, ...chain.map((e) => e.pdu));
      let answer: Json;
      try {
        answer = await send([next.pdu]);
      } finally {
        peer.missing.splice(0);
      }
      expect(peer.missingRequests.at(-1)?.['limit']).toBe(MISSING_EVENTS_LIMIT);
      // The first `limit` are processed; the one beyond is not, so the gap stays (the peer
      // serves no state_ids) and the new event is not accepted in this transaction.
      expect(
        (await row(chain[MISSING_EVENTS_LIMIT - 1]?.eventId ?? ''))?.stream_position,
      ).not.toBeNull();
      expect(await row(last.eventId)).toBeUndefined();
      expect(answer[next.eventId]?.['error']).toEqual(expect.any(String));
      expect(await row(next.eventId)).toBeUndefined();
    });
  });

  describe('an outlier judged later (persist-remote.ts)', () => {
    it('takes the rejection at step 5 and no longer passes as an auth event', async () => {
      const at = await tip();
      // Allowed by its auth events (mallory's join, public join rules) but not by the state
      // before it: right after the create event nobody may join.
      const early = member(at, roomId, 'too early', [at.create]);
      const carrier = message(at, roomId, 'brings the early join as an auth event', [
        at.create,
        at.powerLevels,
        early.eventId,
      ]);
      peer.served.set(early.eventId, early.pdu);
      expect(await send([carrier.pdu])).toEqual({ [carrier.eventId]: {} });
      expect(await row(early.eventId)).toMatchObject({ outlier: 1, state_group: null });
      expect(Number((await row(early.eventId))?.rejected)).toBe(0);

      const judged = await send([early.pdu]);
      expect(judged[early.eventId]?.['error']).toEqual(expect.any(String));
      const stored = (await row(early.eventId)) as Row;
      expect(Number(stored.rejected)).toBe(1);
      expect(Number(stored.outlier)).toBe(0);
      expect(stored.state_group).not.toBeNull();
      expect(stored.stream_position).toBeNull();
      // A resend is answered from the stored verdict.
      expect((await send([early.pdu]))[early.eventId]).toEqual({ error: 'event was rejected' });
      // And it is no longer a usable auth event.
      const later = message(await tip(), roomId, 'cites the rejected join', [
        at.create,
        at.powerLevels,
        early.eventId,
      ]);
      expect((await send([later.pdu]))[later.eventId]?.['error']).toEqual(expect.any(String));
      expect(Number((await row(later.eventId))?.rejected)).toBe(1);
    });

    // Last: mallory is banned from the room.
    it('takes a soft failure', async () => {
      const at = await tip();
      const late = member(at, roomId, 'before the ban');
      const carrier = message(at, roomId, 'brings the rename as an auth event', [
        at.create,
        at.powerLevels,
        late.eventId,
      ]);
      peer.served.set(late.eventId, late.pdu);
      expect(await send([carrier.pdu])).toEqual({ [carrier.eventId]: {} });
      expect(await row(late.eventId)).toMatchObject({ outlier: 1, state_group: null });

      await call(a, alice, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/ban`, {
        user_id: MALLORY,
      });
      // Allowed by the state before it (mallory joined), not by the current state (banned).
      expect(await send([late.pdu])).toEqual({ [late.eventId]: {} });
      const stored = (await row(late.eventId)) as Row;
      expect(Number(stored.soft_failed)).toBe(1);
      expect(Number(stored.rejected)).toBe(0);
      expect(Number(stored.outlier)).toBe(0);
      expect(stored.state_group).not.toBeNull();
      expect(stored.stream_position).toBeNull();
      // Not processed again: the resend finds it stored with its place in the DAG.
      const before = await a.services.ctx.db.queryOne<{ n: number }>(
        'SELECT COUNT(*) AS n FROM state_groups',
      );
      expect(await send([late.pdu])).toEqual({ [late.eventId]: {} });
      const after = await a.services.ctx.db.queryOne<{ n: number }>(
        'SELECT COUNT(*) AS n FROM state_groups',
      );
      expect(Number(after?.n)).toBe(Number(before?.n));
    });
  });
}
