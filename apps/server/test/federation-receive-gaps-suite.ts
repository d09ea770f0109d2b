/**
 * Filling a gap from a hostile peer (event-handler/fetch-missing.ts, handle-pdu.ts) against a
 * hand-written peer `m.test` (federation-peer.ts) over real TLS, on the storage `storage` names
 * (SQLite, or PostgreSQL in the -postgres file):
 * - a `/state_ids` answer is the peer's word: the events it names are held to the receipt checks
 *   (https://spec.matrix.org/v1.19/server-server-api/#checks-performed-on-receipt-of-a-pdu), so
 *   a forged power-levels event (not allowed by its own auth events) is stored as rejected and
 *   an event of another room is left out — neither becomes the state before the PDU (step 5) nor
 *   its state group, and the room's legitimate state is used;
 * - the work one PDU may cause is bounded: a wide auth DAG of fetchable events is walked no
 *   further than the per-PDU budget, and a `/state_ids` answer naming more unknown events than
 *   the cap is not fetched at all. Either is a fetch failure: the PDU gets an error and no
 *   verdict is stored for it. An answer past the cap whose events are all held already (a big
 *   room's state) costs no fetch and is accepted.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  MAX_EVENTS_PER_PDU,
  MAX_STATE_IDS,
} from '../src/services/federation/event-handler/fetch-missing.ts';
import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer, TestServerOptions } from './harness.ts';
import { type RoomTip, roomTip, tipAuthEvents } from './room-tip.ts';
import { createRoom, type Json, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

type Row = { rejected: number; outlier: number; state_group: number | null };
type Signed = { pdu: Record<string, unknown>; eventId: string };

export function receiveGapsSuite(storage: () => TestServerOptions = () => ({})): void {
  let federation: TestFederation;
  let peer: TestPeer;
  let a: TestServer;
  let alice: TestUser;
  let roomId: string;
  let otherRoom: string;
  let txn = 0;

  const tip = (room = roomId): Promise<RoomTip> => roomTip(a, room, MALLORY);

  function row(eventId: string): Promise<Row | undefined> {
    return a.services.ctx.db.queryOne<Row>(
      'SELECT rejected, outlier, state_group FROM events WHERE event_id = $1',
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
  ): Signed {
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

  function message(at: RoomTip, body: string, options: Parameters<typeof event>[4] = {}): Signed {
    return event(at, roomId, 'm.room.message', { msgtype: 'm.text', body }, options);
  }

  async function send(pdus: readonly Record<string, unknown>[]): Promise<Json> {
    return (await peer.send('a.test', `g${++txn}`, pdus))['pdus'] as Json;
  }

  async function joinMallory(room: string): Promise<void> {
    const at = await tip(room);
    const join = event(
      at,
      room,
      'm.room.member',
      { membership: 'join' },
      { stateKey: MALLORY, authEvents: [at.create, at.powerLevels, at.joinRules] },
    );
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
    otherRoom = await createRoom(a, alice, [], { preset: 'public_chat' });
  }, 90_000);

  afterAll(async () => {
    await federation?.close();
    await peer?.down();
  });

  describe('a /state_ids answer (fetch-missing.ts fetchStateAfter)', () => {
    it('keeps a forged power-levels event and another room’s event out of the state', async () => {
      const at = await tip();
      const legit = await a.services.rooms.currentState(roomId);
      const plKey = stateKeyOf('m.room.power_levels', '');
      const joinRulesKey = stateKeyOf('m.room.join_rules', '');
      const legitPl = legit.get(plKey) as string;
      const legitJoinRules = legit.get(joinRulesKey) as string;
      // Mallory (power 0) makes herself admin: her own auth events do not allow it.
      const forged = event(
        at,
        roomId,
        'm.room.power_levels',
        { users: { [MALLORY]: 100 }, users_default: 0, state_default: 0, events_default: 0 },
        { stateKey: '' },
      );
      // Held by a.test already, but of another room.
      const foreign = (await a.services.rooms.currentState(otherRoom)).get(joinRulesKey) as string;
      const gap = message(at, 'known only by the state at it');
      const next = message(at, 'after the gap', { prev: [gap.eventId], depth: at.depth + 2 });
      peer.served.set(gap.eventId, gap.pdu);
      peer.served.set(forged.eventId, forged.pdu);
      peer.stateIds.set(gap.eventId, {
        // The legitimate state first: without the checks the later entries would replace it.
        pdu_ids: [...legit.values(), forged.eventId, foreign],
        auth_chain_ids: [],
      });

      expect(await send([next.pdu])).toEqual({ [next.eventId]: {} });

      const stored = (await row(next.eventId)) as Row;
      expect(stored.state_group).not.toBeNull();
      const state = await a.services.rooms.states.get(
        a.services.ctx.db,
        Number(stored.state_group),
        false,
      );
      expect(state.get(plKey)).toBe(legitPl);
      expect(state.get(joinRulesKey)).toBe(legitJoinRules);
      expect([...state.values()]).not.toContain(forged.eventId);
      expect([...state.values()]).not.toContain(foreign);
      const current = await a.services.rooms.currentState(roomId);
      expect(current.get(plKey)).toBe(legitPl);
      expect(current.get(joinRulesKey)).toBe(legitJoinRules);
      // The forged event failed the auth rules: stored as rejected, no usable auth event.
      expect(Number((await row(forged.eventId))?.rejected)).toBe(1);
    });
  });

  describe('the work one PDU may cause (FetchBudget)', () => {
    it('walks a wide auth DAG no further than the budget, storing no verdict', async () => {
      const at = await tip();
      const real = [at.create, at.powerLevels, at.member ?? ''];
      // A tree of fetchable events, 10 wide and 3 deep under the hub: 1,111 events.
      const build = (level: number, label: string): Signed => {
        const children =
          level === 3
            ? []
            : Array.from({ length: 10 }, (_, i) => build(level + 1, `${label}.${i}`));
        const signed = message(at, `dag ${label}`, {
          authEvents: level === 3 ? real : children.map((child) => child.eventId),
        });
        peer.served.set(signed.eventId, signed.pdu);
        return signed;
      };
      const hub = build(0, 'hub');
      const pdu = message(at, 'cites the DAG', { authEvents: [...real, hub.eventId] });
      const asked = peer.eventRequests.length;

      const answer = await send([pdu.pdu]);

      expect(answer[pdu.eventId]?.['error']).toMatch(/too many events/);
      expect(peer.eventRequests.length - asked).toBeLessThanOrEqual(MAX_EVENTS_PER_PDU);
      expect(peer.eventRequests.length - asked).toBeGreaterThan(0);
      // A fetch failure: no verdict, for the PDU nor for the hub it could not finish walking.
      expect(await row(pdu.eventId)).toBeUndefined();
      expect(await row(hub.eventId)).toBeUndefined();
    }, 60_000);

    it('accepts a /state_ids answer past the cap whose events are all held', async () => {
      const at = await tip();
      const legit = [...(await a.services.rooms.currentState(roomId)).values()];
      const gap = message(at, 'at a big but held state');
      const next = message(at, 'after the big gap', { prev: [gap.eventId], depth: at.depth + 2 });
      peer.served.set(gap.eventId, gap.pdu);
      // Over MAX_STATE_IDS IDs in all (the held state, repeated), none of them unknown.
      const repeats = Math.ceil((MAX_STATE_IDS + 1) / legit.length);
      const pduIds = Array.from({ length: repeats }, () => legit).flat();
      expect(pduIds.length).toBeGreaterThan(MAX_STATE_IDS);
      peer.stateIds.set(gap.eventId, { pdu_ids: pduIds, auth_chain_ids: legit });
      const asked = peer.eventRequests.length;

      expect(await send([next.pdu])).toEqual({ [next.eventId]: {} });

      expect(peer.eventRequests.filter((id) => legit.includes(id))).toEqual([]);
      expect(peer.eventRequests.length - asked).toBeLessThanOrEqual(1);
      expect((await row(next.eventId))?.state_group).not.toBeNull();
    });

    it('fetches nothing of a /state_ids answer with more unknown events than the cap, storing no verdict', async () => {
      const at = await tip();
      const gap = message(at, 'at a huge state');
      const next = message(at, 'after the huge gap', { prev: [gap.eventId], depth: at.depth + 2 });
      peer.served.set(gap.eventId, gap.pdu);
      peer.stateIds.set(gap.eventId, {
        pdu_ids: Array.from({ length: MAX_STATE_IDS + 1 }, (_, i) => `$not-served-${i}`),
        auth_chain_ids: [],
      });
      const asked = peer.eventRequests.length;

      const answer = await send([next.pdu]);

      expect(answer[next.eventId]?.['error']).toMatch(/too large/);
      expect(peer.eventRequests.length - asked).toBe(0);
      expect(await row(next.eventId)).toBeUndefined();
      expect(await row(gap.eventId)).toBeUndefined();
    });
  });
}
