/**
 * The send_join answer check spread over worker threads (membership/verify-parallel.ts) gives
 * exactly the verdicts of the in-thread check (verify-room-state.ts) on a 2,500-event room state
 * with bad events mixed in: a forged signature (dropped), a wrong content hash (kept redacted),
 * a join the auth rules refuse (an invite-only room's join without invite is dropped, and so is
 * an event citing it), an event whose signer's key is unknown, and copies of state events in the
 * auth chain. Real Ed25519 keys and signatures, real worker threads.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { computeEventId, generateSigningKey, type JsonObject, signEvent } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PduFeed } from '../src/services/federation/membership/pdu-feed.ts';
import { EarlyOutliers } from '../src/services/federation/membership/store-outliers.ts';
import { storeRemoteRoom } from '../src/services/federation/membership/store-remote-room.ts';
import {
  verifyRoomStateParallel,
  verifyStreamedRoomState,
} from '../src/services/federation/membership/verify-parallel.ts';
import type { VerifiedPdu } from '../src/services/federation/membership/verify-pdu.ts';
import { verifyRoomState } from '../src/services/federation/membership/verify-room-state.ts';
import { rulesOf } from '../src/services/rooms/service.ts';
import type { Database } from '../src/storage/index.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';

const rules = rulesOf('10');
const key = generateSigningKey();
const forger = generateSigningKey();
const server = 'c.test';
const room = '!room:c.test';
const creator = `@creator:${server}`;

function event(
  fields: Record<string, unknown>,
  depth: number,
  auth: string[],
  signer = key,
  origin = server,
): { pdu: Record<string, unknown>; id: string } {
  const pdu = signEvent(
    {
      ...fields,
      auth_events: auth,
      prev_events: auth.slice(0, 1),
      depth,
      origin,
      origin_server_ts: depth,
      room_id: room,
    },
    rules.id,
    origin,
    signer,
  );
  return { pdu, id: computeEventId(pdu as JsonObject, rules.id) };
}

function member(user: string, membership: string, depth: number, auth: string[]) {
  return event(
    { type: 'm.room.member', state_key: user, sender: user, content: { membership } },
    depth,
    auth,
  );
}

/** A 2,500-member room's answer with the bad events of the file comment mixed in. */
function buildAnswer() {
  const create = event(
    {
      type: 'm.room.create',
      state_key: '',
      sender: creator,
      content: { creator, room_version: '10' },
    },
    1,
    [],
  );
  const creatorJoin = member(creator, 'join', 2, [create.id]);
  const power = event(
    {
      type: 'm.room.power_levels',
      state_key: '',
      sender: creator,
      content: { users: { [creator]: 100 } },
    },
    3,
    [create.id, creatorJoin.id],
  );
  const publicRule = event(
    {
      type: 'm.room.join_rules',
      state_key: '',
      sender: creator,
      content: { join_rule: 'public' },
    },
    4,
    [create.id, creatorJoin.id, power.id],
  );
  const inviteRule = event(
    {
      type: 'm.room.join_rules',
      state_key: '',
      sender: creator,
      content: { join_rule: 'invite' },
    },
    5,
    [create.id, creatorJoin.id, power.id],
  );
  const chain = [create.pdu, creatorJoin.pdu, power.pdu, publicRule.pdu, inviteRule.pdu];
  const state: unknown[] = [create.pdu, creatorJoin.pdu, power.pdu, publicRule.pdu];
  for (let i = 0; i < 2_500; i++) {
    state.push(
      member(`@m${i}:${server}`, 'join', 10 + i, [create.id, power.id, publicRule.id]).pdu,
    );
  }
  // Forged: signed by another key under c.test's key ID.
  const forged = event(
    {
      type: 'm.room.member',
      state_key: '@forged:c.test',
      sender: '@forged:c.test',
      content: { membership: 'join' },
    },
    9_000,
    [create.id, power.id, publicRule.id],
    forger,
  );
  forged.pdu['signatures'] = {
    [server]: {
      [key.keyId]: Object.values(
        (forged.pdu['signatures'] as Record<string, Record<string, string>>)[server] ?? {},
      )[0],
    },
  };
  // Wrong content hash: the content changed after signing (the redacted copy stays valid).
  const tampered = member('@tampered:c.test', 'join', 9_001, [create.id, power.id, publicRule.id]);
  tampered.pdu['content'] = { membership: 'join', displayname: 'changed after signing' };
  // Refused by the rules: a join citing the invite-only rule without an invite.
  const refused = member('@refused:c.test', 'join', 9_002, [create.id, power.id, inviteRule.id]);
  // Cites the refused event as an auth event.
  const citing = event(
    { type: 'm.room.topic', state_key: '', sender: '@refused:c.test', content: { topic: 'x' } },
    9_003,
    [create.id, power.id, refused.id],
  );
  // Signed by a server whose key nobody knows.
  const unknown = event(
    {
      type: 'm.room.member',
      state_key: '@u:d.test',
      sender: '@u:d.test',
      content: { membership: 'join' },
    },
    9_004,
    [create.id, power.id, publicRule.id],
    generateSigningKey(),
    'd.test',
  );
  state.push(forged.pdu, tampered.pdu, refused.pdu, citing.pdu, unknown.pdu);
  const received = JSON.parse(JSON.stringify({ state, chain })) as {
    state: unknown[];
    chain: unknown[];
  };
  return { create, power, publicRule, forged, tampered, refused, citing, unknown, received };
}

const lookup = (entity: string, keyId: string) =>
  entity === server && keyId === key.keyId ? key.publicKey : undefined;

describe('verifyRoomStateParallel', () => {
  it('agrees with the in-thread check, verdict for verdict', async () => {
    const { forged, tampered, refused, citing, unknown, received } = buildAnswer();
    const inThread = verifyRoomState(received.state, received.chain, rules, lookup);
    const parallel = await verifyRoomStateParallel(
      received.state,
      received.chain,
      rules,
      lookup,
      2,
      'throw',
    );

    expect(parallel.rejected).toBe(inThread.rejected);
    expect(new Map(parallel.state)).toEqual(new Map(inThread.state));
    expect([...parallel.events.keys()].sort()).toEqual([...inThread.events.keys()].sort());
    for (const [id, verified] of inThread.events) {
      expect(parallel.events.get(id)?.pdu).toEqual(verified.pdu);
    }
    // The verdicts themselves: 2,500 members + 4 room events kept, the tampered join redacted.
    expect(inThread.state.size).toBe(2_505);
    expect(inThread.events.has(forged.id)).toBe(false);
    expect(inThread.events.has(refused.id)).toBe(false);
    expect(inThread.events.has(citing.id)).toBe(false);
    expect(inThread.events.has(unknown.id)).toBe(false);
    const redacted = parallel.events.get(tampered.id);
    expect(redacted?.redacted).toBe(true);
    expect(redacted?.pdu['content']).toEqual({ membership: 'join' });
  }, 120_000);

  it('gives the same verdicts checking an answer while it arrives (state first, in pieces)', async () => {
    const { received } = buildAnswer();
    const inThread = verifyRoomState(received.state, received.chain, rules, lookup);
    // In the order a resident server sends them (state, then auth chain), 300 PDUs at a time,
    // released a turn of the event loop apart, as a body's chunks and key fetches come.
    const feed = new PduFeed();
    // The sink sees PDUs pass their checks: the first batch must come before the answer ends.
    let checkedSoFar = 0;
    let firstChecked: () => void = () => undefined;
    const someChecked = new Promise<void>((resolve) => {
      firstChecked = resolve;
    });
    const sink = {
      add: (pdus: readonly VerifiedPdu[]) => {
        checkedSoFar += pdus.length;
        if (checkedSoFar > 0) firstChecked();
      },
      step: async () => false,
    };
    const checking = verifyStreamedRoomState(feed, rules, lookup, 2, 'throw', sink);
    const arriving = [
      ...received.state.map((pdu) => [pdu, 'state'] as const),
      ...received.chain.map((pdu) => [pdu, 'auth_chain'] as const),
    ];
    // Everything but the last PDU, 300 at a time, a turn of the event loop apart.
    for (let at = 0; at < arriving.length - 1; at += 300) {
      for (const [pdu, list] of arriving.slice(at, Math.min(at + 300, arriving.length - 1))) {
        feed.add(pdu, list);
      }
      feed.release(feed.pdus.length);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await someChecked;
    const [lastPdu, lastList] = arriving.at(-1) as (typeof arriving)[number];
    feed.add(lastPdu, lastList);
    feed.release(feed.pdus.length);
    feed.end();
    const streamed = await checking;
    expect(streamed.rejected).toBe(inThread.rejected);
    expect(new Map(streamed.state)).toEqual(new Map(inThread.state));
    expect([...streamed.events.keys()].sort()).toEqual([...inThread.events.keys()].sort());
    for (const [id, verified] of inThread.events) {
      expect(streamed.events.get(id)?.pdu).toEqual(verified.pdu);
    }
  }, 120_000);

  it('fails with the body’s error when the answer breaks off mid-way', async () => {
    const { received } = buildAnswer();
    const feed = new PduFeed();
    const checking = verifyStreamedRoomState(feed, rules, lookup, 2, 'fallback');
    for (const pdu of received.state.slice(0, 2_200)) feed.add(pdu, 'state');
    feed.release(feed.pdus.length);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    const broken = new Error('the connection closed before the body ended');
    feed.fail(broken);
    await expect(checking).rejects.toBe(broken);
  }, 120_000);
});

/** The early store and the room store on one backend (`options` picks the database). */
function earlyStoreSuite(backend: string, options: () => TestServerOptions): void {
  describe(`the events of a big answer stored while it is checked (store-outliers.ts, ${backend})`, () => {
    let host: TestServer;
    let db: Database;
    beforeAll(async () => {
      host = await startTestServer({ ...options(), serverName: 'b.test' });
      db = host.services.ctx.db;
    });
    afterAll(async () => {
      await host.stop();
    });

    /**
     * How many of `ids` the SQLite database file itself holds, without its write-ahead log: a
     * copy of the file alone, opened on its own, shows what checkpoints have copied into it.
     */
    const rowsInDatabaseFile = (ids: readonly string[]): number => {
      const copy = join(mkdtempSync(join(tmpdir(), 'weft-checkpoint-')), 'copy.db');
      copyFileSync(join(host.dataDir, 'weft.db'), copy);
      const file = new DatabaseSync(copy);
      try {
        // Nothing checkpointed yet at all: not even the schema is in the file.
        const tables = file.prepare("SELECT name FROM sqlite_master WHERE name = 'events'").all();
        if (tables.length === 0) return 0;
        const marks = ids.map(() => '?').join(', ');
        const row = file
          .prepare(`SELECT count(*) AS n FROM events WHERE event_id IN (${marks})`)
          .get(...ids) as { n: number };
        return row.n;
      } finally {
        file.close();
      }
    };

    const rowsOf = async (
      ids: readonly string[],
    ): Promise<Map<string, Record<string, unknown>>> => {
      const rows = new Map<string, Record<string, unknown>>();
      for (const id of ids) {
        const row = await db.queryOne<Record<string, unknown>>(
          'SELECT event_id, outlier, stream_position, pdu FROM events WHERE event_id = $1',
          [id],
        );
        if (row !== undefined) rows.set(id, row);
      }
      return rows;
    };

    it('writes checked PDUs during the check; the room store drops the rows the auth rules refused', async () => {
      const answer = buildAnswer();
      const { create, power, publicRule, forged, tampered, refused, citing, unknown } = answer;
      const joiner = member('@joiner:c.test', 'join', 9_100, [create.id, power.id, publicRule.id]);
      // Transactions of 256 rows (not 2,048), so a 2,500-event answer writes some before the end.
      const early = new EarlyOutliers(db, room, joiner.id, 256);
      const verified = await verifyRoomStateParallel(
        answer.received.state,
        answer.received.chain,
        rules,
        lookup,
        2,
        'throw',
        early,
      );
      // Rows went in before the check returned (this thread stores between its chunks).
      const [during] = await db.query<{ n: number }>(
        'SELECT count(*) AS n FROM events WHERE room_id = $1',
        [room],
      );
      expect(Number(during?.n)).toBeGreaterThan(0);
      await early.flush();
      // Every PDU that passed the per-PDU checks is stored, the auth rules' refusals included;
      // the forged and unknown-key ones never are.
      const checkedIds = [...verified.events.keys(), refused.id, citing.id];
      expect((await rowsOf(checkedIds)).size).toBe(checkedIds.length);
      expect((await rowsOf([forged.id, unknown.id])).size).toBe(0);

      const join: VerifiedPdu = {
        eventId: joiner.id,
        pdu: joiner.pdu,
        dag: { ...(joiner.pdu as unknown as VerifiedPdu['dag']), event_id: joiner.id },
      };
      await storeRemoteRoom(host.services.rooms, room, rules.id, verified, join, early);
      const kept = await rowsOf([...verified.events.keys()]);
      expect(kept.size).toBe(verified.events.size);
      for (const [id, row] of kept) {
        expect(Number(row['outlier'])).toBe(1);
        expect(row['stream_position']).toBeNull();
        expect(JSON.parse(String(row['pdu']))).toEqual(verified.events.get(id)?.pdu);
      }
      expect((await rowsOf([refused.id, citing.id])).size).toBe(0);
      // The tampered join is stored as its redacted copy.
      const redacted = JSON.parse(String(kept.get(tampered.id)?.['pdu'])) as Record<
        string,
        unknown
      >;
      expect(redacted['content']).toEqual({ membership: 'join' });
      const joined = await rowsOf([joiner.id]);
      expect(joined.get(joiner.id)?.['stream_position']).not.toBeNull();
      expect((await host.services.rooms.currentState(room)).size).toBe(verified.state.size + 1);
      // Memberships: one row per member of the accepted state (its event's membership), the
      // joiner's from its own timeline event; none for the refused join.
      const memberships = new Map(
        (
          await db.query<{ user_id: string; membership: string; event_id: string }>(
            'SELECT user_id, membership, event_id FROM room_memberships WHERE room_id = $1',
            [room],
          )
        ).map((row) => [row.user_id, row]),
      );
      const members = [...verified.state.values()].flatMap((id) => {
        const { dag } = verified.events.get(id) as VerifiedPdu;
        return dag.type === 'm.room.member' ? [dag] : [];
      });
      expect(memberships.size).toBe(members.length + 1);
      for (const dag of members) {
        expect(memberships.get(dag.state_key ?? '')).toEqual({
          user_id: dag.state_key,
          membership: dag.content['membership'],
          event_id: dag.event_id,
        });
      }
      expect(memberships.get('@joiner:c.test')?.event_id).toBe(joiner.id);
      expect(memberships.has('@refused:c.test')).toBe(false);
      expect(memberships.get('@tampered:c.test')?.membership).toBe('join');
    }, 120_000);

    it('drained, writes a part batch, then (SQLite) checkpoints the log once', async () => {
      const drainRoom = '!drained:c.test';
      const pdus: VerifiedPdu[] = [1, 2, 3].map((i) => {
        const { pdu, id } = member(`@d${i}:c.test`, 'join', i, []);
        const placed = { ...pdu, room_id: drainRoom };
        return {
          eventId: `${id}-drained`,
          pdu: placed,
          dag: { ...(placed as unknown as VerifiedPdu['dag']), event_id: `${id}-drained` },
        };
      });
      const rows = new EarlyOutliers(db, drainRoom, '$join');
      rows.add(pdus);
      // Three rows are less than a batch: only a drain writes them.
      expect(await rows.step()).toBe(false);
      expect(await rows.step(true)).toBe(true);
      const ids = pdus.map((p) => p.eventId);
      expect((await rowsOf(ids)).size).toBe(3);
      // Then one passive checkpoint on SQLite (nothing on PostgreSQL), and no more work. The
      // rows were only in the write-ahead log; checkpointed, they are in the database file.
      if (db.dialect === 'sqlite') expect(rowsInDatabaseFile(ids)).toBe(0);
      expect(await rows.step(true)).toBe(db.dialect === 'sqlite');
      if (db.dialect === 'sqlite') expect(rowsInDatabaseFile(ids)).toBe(3);
      expect(await rows.step(true)).toBe(false);
      await rows.discard();
    });

    it('a failed join removes its early rows unless the room is known here', async () => {
      const unknownRoom = '!never-joined:c.test';
      const pdus: VerifiedPdu[] = [1, 2, 3].map((i) => {
        const { pdu, id } = member(`@x${i}:c.test`, 'join', i, []);
        const placed = { ...pdu, room_id: unknownRoom };
        return {
          eventId: `${id}-${i}`,
          pdu: placed,
          dag: { ...(placed as unknown as VerifiedPdu['dag']), event_id: `${id}-${i}` },
        };
      });
      const ids = pdus.map((p) => p.eventId);
      const failed = new EarlyOutliers(db, unknownRoom, '$join');
      failed.add(pdus);
      await failed.flush();
      expect((await rowsOf(ids)).size).toBe(3);
      await failed.discard();
      expect((await rowsOf(ids)).size).toBe(0);

      // The room of the first test is stored here: a failed rejoin keeps the outliers.
      const inKnown = pdus.map((p) => ({ ...p, eventId: `${p.eventId}-known` }));
      const rejoin = new EarlyOutliers(db, room, '$join');
      rejoin.add(inKnown);
      await rejoin.flush();
      await rejoin.discard();
      expect((await rowsOf(inKnown.map((p) => p.eventId))).size).toBe(3);
    });
  });
}

earlyStoreSuite('SQLite', () => ({}));
describe('on PostgreSQL', () => {
  earlyStoreSuite('PostgreSQL', postgresDatabases(['earlystore'])('earlystore'));
});
